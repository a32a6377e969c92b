"""The edit room: the current edit over the song (ruler, sections, snap targets), played from
playback proxies or the latest render, and changed on the grid.

    GET  /api/cut                the current edit (planned or conformed: which, and from where), the
                                 song's waveform, the latest render and whether it is current
    GET  /api/song               the song map: beats, downbeats, sections (each with its confidence and
                                 whether its start is sure or a guess), and the snap targets (every beat,
                                 marked downbeat / 4- or 8-bar phrase start / section start, sure or guessed,
                                 with how hard it pulls a dragged cut: `snap_pull`)
    GET  /api/slot/{n}/takes     the takes slot n can swap to, best-ranked first
    POST /api/edit               swap / move (snapped to the beat grid) / transition / lock / undo,
                                 written as the catalog's selection and the spec's `place:` pins,
                                 then planned again exactly as `dreamcut edit` plans
    GET  /api/history            the edit room's changes, newest first (from the catalog)

This module presents and records the director's choices; it never decides an edit.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from dreamcut.web import media as board_media
from dreamcut.web.http import json_object
from dreamcut.web.state import Board


def timecode(seconds: float, fps: int) -> str:
    """HH:MM:SS:FF at `fps` (non-drop), as an NLE's record timecode reads."""
    total = round(seconds * fps)
    f = total % fps
    s_ = total // fps
    return f"{s_ // 3600:02d}:{s_ // 60 % 60:02d}:{s_ % 60:02d}:{f:02d}"


def play_url(take_id: str) -> str:
    """Where the monitor plays a take from: its playback proxy (full length, every frame)."""
    return f"/proxy/play/{take_id}.mp4"


def read_cut(path) -> dict[str, Any]:
    """The clips of an edit file as the board draws them (slot, record times, source in, reason)."""
    from dreamcut import timeline as tl
    from dreamcut.errors import BadInput

    try:
        timeline = tl.read_timeline(path)
        fps = tl.info(timeline).fps
        views = tl.clips(timeline, fps)
    except (BadInput, ValueError, TypeError):  # a damaged or foreign cut: show none rather than failing the board
        return {"clips": [], "seconds": 0.0, "fps": 24, "error": f"{path.name} could not be read"}
    clips = [{"slot": i + 1, "take": v.take, "shot": v.shot or "", "start": round(v.record_start / fps, 3),
              "end": round(v.record_end / fps, 3), "tc": timecode(v.record_start / fps, fps),
              "source_in": round(v.source_in / fps, 3), "speed": v.speed,
              "media": play_url(v.take) if not v.baked else "",
              "reason": str(v.meta.get("reason", "")), "score": v.meta.get("score")}
             for i, v in enumerate(views)]
    seconds = views[-1].record_end / fps if views else 0.0
    return {"clips": clips, "seconds": round(seconds, 3), "fps": fps, "title": timeline.name}


GUESSED_BOUNDARY = "guessed boundary"  # how the board names a section start the analysis is not sure of


def section_band(song, i: int, name: str) -> dict[str, Any]:
    """What the board shows for the song's `i`-th section (`name`: its label with its occurrence):
    where it lies, its confidence, whether its start is sure (`SongAnalysis.sure_section`, the one
    rule), the text on its band (a guess ends in "?") and, for a guess, the line that says so: a guessed
    start, or a name that is a coin toss between the chorus and the material nearly as loud
    (`SongAnalysis.chorus_doubt`, the song map's own line)."""
    s = song.sections[i]
    sure = song.sure_section(i)
    doubts = [] if sure else [f"{GUESSED_BOUNDARY} (confidence {s.confidence:.2f}): check it in "
                              "`dreamcut song` or fix it in the spec's song: block"]
    if song.name_in_doubt(i):
        doubts.append(song.chorus_doubt())
    return {"start": s.start, "end": s.end, "label": s.label, "name": name, "confidence": round(s.confidence, 3),
            "sure": sure, "text": s.label + ("?" if doubts else ""), "doubt": "; ".join(doubts)}


# How far a snap target pulls a dragged cut, from what the planner says a cut there is worth
# (`cut_places`' bonus, in cost units): a plain beat pulls 1x, each unit of bonus half as far again
# (a downbeat 1.5x, a sure section start on an 8-bar phrase 4.25x, a guessed one 2.75x, as a downbeat
# on that phrase would), a beat the planner avoids (doubtful) no less than PULL_FLOOR.
PULL_PER_BONUS = 0.5
PULL_FLOOR = 0.25


def snap_pull(bonus: float) -> float:
    """How hard a snap target with the planner's `bonus` pulls a dragged cut (distance / pull decides)."""
    return round(max(PULL_FLOOR, 1.0 + PULL_PER_BONUS * bonus), 4)


def snap_targets(song, fps: int) -> list[dict[str, Any]]:
    """Every beat the board may snap a cut to, with what it is: a downbeat, the start of a 4- or
    8-bar phrase, a section start (and whether the analysis is sure of that start), and how hard it
    pulls (`snap_pull` of the planner's own bonus there). The same places the planner cuts on
    (`planner.cut_places`: one rule for what a phrase start is and what a cut there is worth)."""
    from dreamcut.edit.planner import cut_places

    total = int(round(song.duration * fps)) + 1
    return [{"t": song.beats[c.beat], "bar": c.bar, "beat": c.beat_in_bar, "phrase": c.phrase,
             "section": c.section if c.section_start else None,
             "section_sure": c.section_sure if c.section_start else None,
             "pull": snap_pull(c.bonus)}
            for c in cut_places(song, fps, total)]


class EditRoom:
    """The current edit of the board's project, and the changes made to it on the grid."""

    def __init__(self, board: Board):
        self.board = board
        self.project = board.project
        self._cut_cache: tuple[tuple[str, int], dict] | None = None
        self._making: set[str] = set()  # takes whose playback proxy a background thread is making
        self._making_lock = threading.Lock()

    # -- reading -------------------------------------------------------------------------------
    def source(self):
        """Which edit is current (the planner's cut or a conformed NLE edit): `pipeline.current_edit`."""
        from dreamcut.pipeline import current_edit

        return current_edit(self.project)

    def edit(self) -> dict[str, Any]:
        """The current edit's clips (slot, record times, the planner's reasons) and where it came from."""
        source = self.source()
        data: dict[str, Any] = {"clips": [], "seconds": 0.0, "fps": 24}
        if source.path.is_file():
            key = (str(source.path), source.path.stat().st_mtime_ns)
            if self._cut_cache and self._cut_cache[0] == key:
                data = dict(self._cut_cache[1])
            else:
                data = read_cut(source.path)
                self._cut_cache = (key, dict(data))
        data["source"] = {"path": self.project.rel(source.path), "conformed": source.conformed,
                          "conformed_from": source.conformed_from, "text": source.describe()}
        return data

    def usage(self, edit: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
        """take id -> the slots of the current edit it fills (a take may be used twice)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for c in (edit or self.edit())["clips"]:
            out.setdefault(c["take"], []).append(c)
        return out

    def render_state(self) -> dict[str, Any] | None:
        """The latest master render and whether it is current (made after the current edit was written)."""
        from dreamcut.pipeline import render_paths

        master, _ = render_paths(self.project)
        source = self.source()
        if not master.is_file() or not source.path.is_file():
            return None
        current = master.stat().st_mtime_ns >= source.path.stat().st_mtime_ns
        return {"url": "/files/" + self.project.rel(master), "current": current}

    def song_map(self):
        from dreamcut.pipeline import analyse_song

        return analyse_song(self.project)

    def song(self) -> dict[str, Any]:
        """The song map the edit is cut to (`pipeline.analyse_song`, cached by content): tempo, beats,
        downbeats, sections (sure or guessed: `section_band`), and the snap targets, for the
        timeline's ruler and for snapping."""
        song = self.song_map()
        return {"duration": song.duration, "tempo": song.tempo, "beats": song.beats, "downbeats": song.downbeats,
                "beats_per_bar": song.beats_per_bar,
                "sections": [section_band(song, i, name) for i, name in enumerate(song.section_names())],
                "snap": snap_targets(song, self.project.spec.fps)}

    def cut(self) -> dict[str, Any]:
        """The current edit over the song's waveform, with the latest render and the song's URL.
        The playback proxies of its takes are made in the background when missing."""
        data = self.edit()
        data["render"] = self.render_state()
        data["song_url"] = "/media/song"
        data["peaks"] = []
        self.prepare_playback(data["clips"])
        try:
            song = self.project.song_path
        except Exception:  # a spec without a song still has a board
            song = None
        if song is not None and song.is_file() and self.project.inside(song):
            wave = board_media.waveform(self.project.cache_dir, song.resolve())
            data["peaks"] = wave["peaks"]
            data["seconds"] = max(float(data.get("seconds") or 0.0), wave["seconds"])
        return data

    def prepare_playback(self, clips: list[dict[str, Any]]) -> None:
        """Start making the playback proxies the cut's takes lack (one thread; ffmpeg slots are shared)."""
        missing = []
        for take in dict.fromkeys(c["take"] for c in clips if c["media"]):
            try:
                src = self.board.take_file(take)
            except HTTPException:
                continue
            if not board_media.play_proxy_path(self.project.cache_dir, take, src).is_file():
                missing.append((take, src))
        with self._making_lock:
            missing = [(t, src) for t, src in missing if t not in self._making]
            self._making.update(t for t, _ in missing)
        if missing:
            def work() -> None:
                for take, src in missing:
                    try:
                        board_media.ensure_play_proxy(self.project.cache_dir, take, src)
                    except Exception:  # the route makes it again on demand, and answers the error there
                        pass
                    finally:
                        with self._making_lock:
                            self._making.discard(take)

            threading.Thread(target=work, daemon=True, name="board-play-proxies").start()

    # -- changing: written where the director's choices live ----------------------------------------
    def slot_takes(self, slot: int) -> dict[str, Any]:
        """The takes a slot can swap to: its shot's takes, best-ranked first (`pipeline.ranked_takes`)."""
        from dreamcut.pipeline import ranked_takes

        clip = self._slot(slot)
        with self.board.lock:
            takes = ranked_takes(self.project, clip["shot"])
        return {"slot": slot, "shot": clip["shot"], "take": clip["take"],
                "takes": [{"id": t.id, "score": t.score, "variant": t.variant} for t in takes]}

    def _slot(self, slot: Any) -> dict[str, Any]:
        clips = self.edit()["clips"]
        if not isinstance(slot, int) or isinstance(slot, bool) or not 1 <= slot <= len(clips):
            raise HTTPException(422, f"slot must be 1..{len(clips)}")
        if not clips[slot - 1]["shot"]:
            raise HTTPException(422, f"slot {slot} is not a shot of the spec")
        return clips[slot - 1]

    def _place_of(self, shot_id: str) -> dict | None:
        shot = self.project.spec.shot(shot_id)
        return shot.place.model_dump(exclude_none=True) if shot.place is not None else None

    def change(self, body: dict[str, Any]) -> dict[str, Any]:
        """One change from the board (swap a slot's take, move a slot's cut onto the beat grid, change
        a transition, lock a slot, undo), written where the director's choices live (selection in
        the catalog, `place:` pins and `transition:` in dreamcut.yaml), recorded in the catalog's
        history, then planned again exactly as `dreamcut edit` plans. A change the planner refuses
        is put back and answered 422."""
        from dreamcut import lock
        from dreamcut.errors import BadInput

        with self.board.lock:
            try:  # the project's one writer for this change (a running render or generate is waited for by no one)
                lock.acquire(self.project.state_dir, "review board edit")
            except BadInput as e:
                raise HTTPException(409, str(e)) from None
            try:
                return self._change(body)
            finally:
                lock.release(self.project.state_dir)

    def _change(self, body: dict[str, Any]) -> dict[str, Any]:
        from dreamcut.edit.grid import snap_place

        catalog = self.board.catalog
        op = body.get("op")
        if self.source().conformed:
            raise HTTPException(409, "the current edit was conformed from an NLE: change it there, or run "
                                     "`dreamcut edit` to plan again from the spec")
        if op == "undo":
            change = catalog.last_edit_change()
            if change is None:
                raise HTTPException(409, "nothing to undo")
            self._apply(change.shot_id, change.before)
            catalog.mark_edit_change_undone(change.id)
            return self._replan(lambda: (self._apply(change.shot_id, change.after),
                                         catalog.restore_edit_change(change.id)))
        clip = self._slot(body.get("slot"))
        shot = clip["shot"]
        spec_shot = self.project.spec.shot(shot)
        before: dict[str, Any] = {"take": self.board.selections().get(shot), "place": self._place_of(shot),
                                  "transition": spec_shot.transition.model_dump() if spec_shot.transition else None}
        if op == "swap":
            take = catalog.take(str(body.get("take")))
            if take is None or take.shot_id != shot or take.kind != "take":
                raise HTTPException(422, f"take must be one of shot {shot}'s takes")
            after = {"take": take.id}
        elif op == "move":
            to = body.get("to")
            if clip["slot"] == 1 or not isinstance(to, (int, float)) or isinstance(to, bool):
                raise HTTPException(422, "move needs a slot after the first and `to` in seconds")
            place, _ = snap_place(self.song_map(), float(to))
            after = {"place": place}
        elif op == "transition":
            # how slot n hands over to slot n+1: the shot's `transition:` in the spec
            kind = body.get("kind")
            if kind not in ("cut", "dissolve", "dip", "zoom") or clip["slot"] == len(self.edit()["clips"]):
                raise HTTPException(422, "transition needs a slot before the last and a kind: cut, dissolve, "
                                         "dip or zoom")
            beats = body.get("beats", 1.0)
            if not isinstance(beats, (int, float)) or isinstance(beats, bool) or not 0 < beats <= 16:
                raise HTTPException(422, "beats must be above 0 and at most 16")
            after = {"transition": {"kind": kind, "beats": float(beats)}}
        elif op == "lock":
            place = snap_place(self.song_map(), clip["start"])[0] if clip["slot"] > 1 else None
            after = {"take": clip["take"], "place": place}
        else:
            raise HTTPException(422, "op must be swap, move, transition, lock or undo")
        before = {k: before[k] for k in after}
        self._apply(shot, after)
        change_id = catalog.record_edit_change(op, shot, before, after)
        return self._replan(lambda: (self._apply(shot, before), catalog.drop_edit_change(change_id)))

    def _apply(self, shot_id: str, state: dict[str, Any]) -> None:
        if "take" in state:
            if state["take"] is None:
                self.board.catalog.unselect(shot_id)
            else:
                self.board.catalog.select(shot_id, state["take"])
        if "place" in state:
            self.project.set_shot_place(shot_id, state["place"])
        if "transition" in state:
            self.project.set_shot_field(shot_id, "transition", state["transition"])

    def _replan(self, revert) -> dict[str, Any]:
        from dreamcut.errors import DreamcutError
        from dreamcut.pipeline import make_edit

        try:
            make_edit(self.project)
        except DreamcutError as e:
            revert()
            raise HTTPException(422, str(e)) from None
        return self.cut()


def routes(room: EditRoom) -> APIRouter:
    api = APIRouter()

    @api.get("/api/cut")
    def api_cut() -> dict:
        return room.cut()

    @api.get("/api/song")
    def api_song() -> dict:
        return room.song()

    @api.get("/api/slot/{slot}/takes")
    def api_slot_takes(slot: int) -> dict:
        return room.slot_takes(slot)

    @api.post("/api/edit")
    async def api_edit(request: Request) -> dict:
        body = await json_object(request)
        import anyio

        return await anyio.to_thread.run_sync(room.change, body)

    @api.get("/api/history")
    def api_history() -> list:
        with room.board.lock:
            return [c.__dict__ for c in room.board.catalog.edit_history()]

    return api
