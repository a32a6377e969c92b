"""The review board: a FastAPI app over one project's catalog.

Pages and calls:
    GET  /                       the board: shots x takes, server-rendered (fast first paint)
    GET  /thumb/{take}.jpg       a small poster (made on demand, cached)
    GET  /proxy/{take}.mp4       a low-res looping proxy (made on demand, cached)
    GET  /media/take/{take}      the full take (only the compare view asks for it)
    GET  /files/{path}           other project media (contact sheets, renders), inside the project only
    GET  /api/board              every take with its review, and the selections
    GET  /api/changes?since=T    reviews and selections changed since T (tabs poll this)
    POST /api/review/{take}      rating / status / note / tags of one take, written at once
    GET  /api/cut                the current edit (planned or conformed: which, and from where), the
                                 song's waveform, the latest render and whether it is current
    GET  /api/song               the song map: beats, downbeats, bars, sections (the ruler, snapping)
    GET  /media/song             the song (the timeline's clock when it plays takes in sequence)
    GET  /api/slot/{n}/takes     the takes slot n can swap to, best-ranked first
    POST /api/edit               swap / move (snapped to the beat grid) / lock / undo, written as the
                                 catalog's selection and the spec's `place:` pins, then planned again
    GET  /api/history            the edit room's changes, newest first (from the catalog)
    POST /api/jobs               preview more variants, promote, re-render (background jobs)
    GET  /api/jobs               the jobs this board started

Safety: the board serves media and nothing else. Media is looked up by take id in the catalog
(never by a path from the URL), except /files/; either way the path is resolved (links followed)
and served only when it lands inside takes/, previews/, renders/ or exports/ with a picture or
video suffix: never .dreamcut/ (the catalog, the signing key), the spec, sidecars or the song,
whatever a catalog row or a symlink says. Every error is a 4xx with a one-line JSON detail
(no traceback); request bodies are capped at MAX_BODY bytes and JSON at MAX_JSON_DEPTH levels. State-changing calls need the
`X-Dreamcut: 1` header, which a foreign web page cannot send without a CORS preflight
this app never grants. The Host header must name this machine (DNS rebinding).

This module presents and records the director's choices; it never decides an edit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from dreamcut.catalog import Catalog
from dreamcut.errors import BadInput, DreamcutError
from dreamcut.project import Project
from dreamcut.web import media as board_media

HERE = Path(__file__).resolve().parent
STATUS_VALUES = (None, "selected", "rejected")
# Folders of a project whose files the board may serve (not the catalog, not the spec, not keys).
SERVED_FOLDERS = ("takes", "previews", "renders", "exports")
TAKE_FOLDERS = ("takes", "previews")  # where a take's file may live
# Pictures and videos only: sidecars (.json) carry request details the board has no need to expose.
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm"}
SERVED_SUFFIXES = VIDEO_SUFFIXES | {".png", ".jpg", ".jpeg", ".webp", ".gif"}
MAX_BODY = 256 * 1024  # bytes: a review note is at most a few kB
MAX_JSON_DEPTH = 16
MAX_NOTE = 4000
MAX_TAGS = 20


class Board:
    """The board's state: one project, one catalog connection (guarded by a lock), the jobs."""

    def __init__(self, root: Path):
        self.project = Project.open(root)
        self.root = self.project.root
        self.catalog: Catalog = self.project.catalog
        self.lock = threading.RLock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self._cut_cache: tuple[tuple[str, int], dict] | None = None

    # -- data ----------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        with self.lock:
            cur = self.catalog.db.execute(
                "SELECT t.id, t.shot_id, t.kind, t.variant, t.seed, t.backend, t.model, t.seconds, t.width, "
                "t.height, t.cost_usd, t.score, t.score_json, t.created_at, t.prompt, r.rating, r.status, r.note, "
                "r.tags_json FROM takes t LEFT JOIN reviews r ON r.take_id = t.id "
                "ORDER BY t.shot_id, t.kind, t.created_at, t.id")
            out = []
            for r in cur:
                d = dict(r)
                detail = json.loads(d.pop("score_json") or "null") or {}
                d["explanation"] = detail.get("explanation", "") if isinstance(detail, dict) else ""
                d["defect_kinds"] = sorted({str(x.get("kind")) for x in detail.get("defects", []) if isinstance(x, dict)}) \
                    if isinstance(detail, dict) and isinstance(detail.get("defects"), list) else []
                d["tags"] = json.loads(d.pop("tags_json") or "[]")
                d["note"] = d["note"] or ""
                out.append(d)
            return out

    def shots(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.catalog.db.execute("SELECT id, position, prompt FROM shots ORDER BY position")]

    def selections(self) -> dict[str, str]:
        with self.lock:
            return {k: r["take_id"] for k, r in self.catalog.selections().items()}

    def take_file(self, take_id: str) -> Path:
        with self.lock:
            take = self.catalog.take(take_id)
        if take is None:
            raise HTTPException(404, "no such take")
        # A catalog row or a symlink pointing anywhere but a take's media is refused, not followed.
        path = self.media_file(take.path, folders=TAKE_FOLDERS, suffixes=VIDEO_SUFFIXES)
        if path is None:
            raise HTTPException(404, "take file not found")
        return path

    def media_file(self, rel: str, *, folders=SERVED_FOLDERS, suffixes=SERVED_SUFFIXES) -> Path | None:
        """The file `rel` names, resolved (links followed), if it is media in one of `folders`; else None."""
        if "\x00" in rel:
            return None
        try:
            resolved = (self.root / rel).resolve()
            inner = resolved.relative_to(self.root).parts
        except (ValueError, OSError, RuntimeError):
            return None
        if len(inner) < 2 or inner[0] not in folders or resolved.suffix.lower() not in suffixes:
            return None
        if any(part.startswith(".") for part in inner):  # .dreamcut/, hidden temp files
            return None
        return resolved if resolved.is_file() else None

    def set_review(self, take_id: str, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "rating" in body:
            rating = body["rating"]
            if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5):
                raise HTTPException(422, "rating must be 1..5 or null")
            fields["rating"] = rating
        if "status" in body:
            if body["status"] not in STATUS_VALUES:
                raise HTTPException(422, "status must be selected, rejected or null")
            fields["status"] = body["status"]
        if "note" in body:
            if not isinstance(body["note"], str) or len(body["note"]) > MAX_NOTE:
                raise HTTPException(422, f"note must be text of at most {MAX_NOTE} characters")
            fields["note"] = body["note"]
        if "tags" in body:
            tags = body["tags"]
            if not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(isinstance(t, str) and 0 < len(t) <= 40
                                                                             for t in tags):
                raise HTTPException(422, f"tags must be a list of at most {MAX_TAGS} short texts")
            fields["tags"] = sorted({t.strip() for t in tags if t.strip()})
        with self.lock, self.catalog.transaction():
            take = self.catalog.take(take_id)
            if take is None:
                raise HTTPException(404, "no such take")
            selected_before = self.selections().get(take.shot_id)
            if fields.get("status") == "selected":
                # One selected take per shot: the previous one steps back to unreviewed status.
                if selected_before and selected_before != take_id:
                    self.catalog.set_review(selected_before, status=None)
                self.catalog.select(take.shot_id, take_id)
            elif "status" in fields and selected_before == take_id:
                self.catalog.db.execute("DELETE FROM selections WHERE shot_id=? AND take_id=?", (take.shot_id, take_id))
            review = self.catalog.set_review(take_id, **fields)
        return review

    def changes(self, since: float) -> dict[str, Any]:
        with self.lock:
            reviews = []
            for r in self.catalog.db.execute("SELECT * FROM reviews WHERE updated_at > ? ORDER BY updated_at", (since,)):
                d = dict(r)
                d["tags"] = json.loads(d.pop("tags_json"))
                reviews.append(d)
            latest = self.catalog.db.execute("SELECT MAX(updated_at) FROM reviews").fetchone()[0] or 0.0
            sel_latest = self.catalog.db.execute("SELECT MAX(updated_at) FROM selections").fetchone()[0] or 0.0
            count = self.catalog.db.execute("SELECT COUNT(*) FROM takes").fetchone()[0]
        return {"now": max(latest, sel_latest, since), "reviews": reviews, "selections": self.selections(),
                "takes": count}

    def edit_source(self):
        """Which edit is current (the planner's cut or a conformed NLE edit): `pipeline.current_edit`."""
        from dreamcut.pipeline import current_edit

        return current_edit(self.project)

    def edit(self) -> dict[str, Any]:
        """The current edit's clips (slot, record times, the planner's reasons) and where it came from."""
        source = self.edit_source()
        data: dict[str, Any] = {"clips": [], "seconds": 0.0, "fps": 24}
        if source.path.is_file():
            key = (str(source.path), source.path.stat().st_mtime_ns)
            if self._cut_cache and self._cut_cache[0] == key:
                data = dict(self._cut_cache[1])
            else:
                data = _read_cut(source.path, self.root)
                self._cut_cache = (key, dict(data))
        data["source"] = {"path": self.project.rel(source.path), "conformed": source.conformed,
                          "conformed_from": source.conformed_from, "text": source.describe()}
        return data

    def usage(self) -> dict[str, list[dict[str, Any]]]:
        """take id -> the slots of the current edit it fills (a take may be used twice)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for c in self.edit()["clips"]:
            out.setdefault(c["take"], []).append(c)
        return out

    def render_state(self) -> dict[str, Any] | None:
        """The latest master render and whether it is current (made after the current edit was written)."""
        from dreamcut.pipeline import render_paths

        master, _ = render_paths(self.project)
        source = self.edit_source()
        if not master.is_file() or not source.path.is_file():
            return None
        current = master.stat().st_mtime_ns >= source.path.stat().st_mtime_ns
        return {"url": "/files/" + self.project.rel(master), "current": current}

    def song(self) -> dict[str, Any]:
        """The song map the edit is cut to (`pipeline.analyse_song`, cached by content): tempo, beats,
        downbeats, bars and sections, for the timeline's ruler and for snapping."""
        from dreamcut.pipeline import analyse_song

        song = analyse_song(self.project)
        return {"duration": song.duration, "tempo": song.tempo, "beats": song.beats, "downbeats": song.downbeats,
                "beats_per_bar": song.beats_per_bar,
                "sections": [{"start": x.start, "end": x.end, "label": x.label} for x in song.sections]}

    def cut(self) -> dict[str, Any]:
        """The current edit over the song's waveform, with the latest render and the song's URL."""
        data = self.edit()
        data["render"] = self.render_state()
        data["song_url"] = "/media/song"
        data["peaks"] = []
        try:
            song = self.project.song_path
        except Exception:  # a spec without a song still has a board
            song = None
        if song is not None and song.is_file() and self.project.inside(song):
            wave = board_media.waveform(self.project.cache_dir, song.resolve())
            data["peaks"] = wave["peaks"]
            data["seconds"] = max(float(data.get("seconds") or 0.0), wave["seconds"])
        return data

    # -- the edit room: changes written as the spec's pins and the catalog's selections ---------
    def slot_takes(self, slot: int) -> dict[str, Any]:
        """The takes a slot can swap to: its shot's takes, best-ranked first (`pipeline.ranked_takes`)."""
        from dreamcut.pipeline import ranked_takes

        clip = self._slot(slot)
        with self.lock:
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

    def change_edit(self, body: dict[str, Any]) -> dict[str, Any]:
        """One change from the board (swap a slot's take, move a slot's cut onto the beat grid, lock a
        slot, undo), written where the director's choices live (selection in the catalog, `place:`
        pins in dreamcut.yaml), recorded in the catalog's history, then planned again exactly as
        `dreamcut edit` plans. A change the planner refuses is put back and answered 422."""
        from dreamcut import lock
        from dreamcut.errors import BadInput

        with self.lock:
            try:  # the project's one writer for this change (a running render or generate is waited for by no one)
                lock.acquire(self.project.state_dir, "review board edit")
            except BadInput as e:
                raise HTTPException(409, str(e)) from None
            try:
                return self._change_edit(body)
            finally:
                lock.release(self.project.state_dir)

    def _change_edit(self, body: dict[str, Any]) -> dict[str, Any]:
        from dreamcut.edit.grid import snap_place

        op = body.get("op")
        with self.lock:
            if self.edit_source().conformed:
                raise HTTPException(409, "the current edit was conformed from an NLE: change it there, or run "
                                         "`dreamcut edit` to plan again from the spec")
            if op == "undo":
                change = self.catalog.last_edit_change()
                if change is None:
                    raise HTTPException(409, "nothing to undo")
                self._apply(change.shot_id, change.before)
                self.catalog.mark_edit_change_undone(change.id)
                return self._replan(lambda: (self._apply(change.shot_id, change.after),
                                             self.catalog.db.execute("UPDATE edit_history SET undone=0 WHERE id=?",
                                                                     (change.id,))))
            clip = self._slot(body.get("slot"))
            shot = clip["shot"]
            spec_shot = self.project.spec.shot(shot)
            before: dict[str, Any] = {"take": self.selections().get(shot), "place": self._place_of(shot),
                                      "transition": spec_shot.transition.model_dump() if spec_shot.transition else None}
            if op == "swap":
                take = self.catalog.take(str(body.get("take")))
                if take is None or take.shot_id != shot or take.kind != "take":
                    raise HTTPException(422, f"take must be one of shot {shot}'s takes")
                after = {"take": take.id}
            elif op == "move":
                to = body.get("to")
                if clip["slot"] == 1 or not isinstance(to, (int, float)) or isinstance(to, bool):
                    raise HTTPException(422, "move needs a slot after the first and `to` in seconds")
                place, _ = snap_place(self._song(), float(to))
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
                place = snap_place(self._song(), clip["start"])[0] if clip["slot"] > 1 else None
                after = {"take": clip["take"], "place": place}
            else:
                raise HTTPException(422, "op must be swap, move, transition, lock or undo")
            before = {k: before[k] for k in after}
            self._apply(shot, after)
            change_id = self.catalog.record_edit_change(op, shot, before, after)
            return self._replan(lambda: (self._apply(shot, before),
                                         self.catalog.db.execute("DELETE FROM edit_history WHERE id=?", (change_id,))))

    def _song(self):
        from dreamcut.pipeline import analyse_song

        return analyse_song(self.project)

    def _apply(self, shot_id: str, state: dict[str, Any]) -> None:
        if "take" in state:
            if state["take"] is None:
                self.catalog.db.execute("DELETE FROM selections WHERE shot_id=?", (shot_id,))
            else:
                self.catalog.select(shot_id, state["take"])
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

    # -- background jobs -------------------------------------------------------------------
    def start_job(self, action: str, shot: str | None, variants: list[int] | int | None,
                  confirm: bool = False) -> dict[str, Any]:
        """Run `dreamcut preview|promote|render` for this project as a child process (isolated, and
        durable through the catalog: a board restart loses only the log tail, never the work)."""
        cmd = [sys.executable, "-m", "dreamcut", "--project", str(self.root), "--quiet"]
        if action == "preview":
            n = variants if isinstance(variants, int) else 8
            if n not in (4, 8, 16, 32) or not shot:
                raise HTTPException(422, "preview needs a shot and variants of 4, 8, 16 or 32")
            cmd += ["preview", shot, "--variants", str(n)]
        elif action == "promote":
            if not shot or not isinstance(variants, list) or not variants or not all(isinstance(v, int) for v in variants):
                raise HTTPException(422, "promote needs a shot and a list of variant numbers")
            if shot not in {s["id"] for s in self.shots()}:
                raise HTTPException(404, "no such shot")
            from dreamcut.preview import unpreviewed

            with self.lock:
                never = unpreviewed(self.project, shot, variants)
            if never and not confirm:
                # The board asks the director first (409 + `confirm`); the CLI prints a warning line.
                raise HTTPException(409, f"{shot} variant(s) {', '.join(map(str, never))} were never previewed: "
                                         "promote anyway?")
            cmd += ["promote", shot, *[str(v) for v in variants]]
        elif action == "render":
            cmd += ["render"]
        else:
            raise HTTPException(422, "action must be preview, promote or render")
        if shot is not None and shot not in {s["id"] for s in self.shots()}:
            raise HTTPException(404, "no such shot")
        job_id = uuid.uuid4().hex[:12]
        job = {"id": job_id, "action": action, "shot": shot, "state": "running", "started_at": time.time(),
               "finished_at": None, "exit_code": None, "log": ""}
        self.jobs[job_id] = job
        env = dict(os.environ)
        package_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")

        from dreamcut._startup import crash_line

        def work() -> None:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(self.root))
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
            crashed = crash_line(proc.returncode, f"dreamcut {action}")
            if crashed:  # a native crash: one clear line, not a stack dump
                tail = [crashed]
            job.update(state="done" if proc.returncode == 0 else "failed", exit_code=proc.returncode,
                       finished_at=time.time(), log="\n".join(tail).replace(str(Path.home()), "~"))

        threading.Thread(target=work, daemon=True, name=f"board-job-{job_id}").start()
        return job


def _chunked(parts, size: int = 32_768):
    buf: list[str] = []
    n = 0
    for part in parts:
        buf.append(part)
        n += len(part)
        if n >= size:
            yield "".join(buf).encode()
            buf, n = [], 0
    if buf:
        yield "".join(buf).encode()


def timecode(seconds: float, fps: int) -> str:
    """HH:MM:SS:FF at `fps` (non-drop), as an NLE's record timecode reads."""
    total = round(seconds * fps)
    f = total % fps
    s_ = total // fps
    return f"{s_ // 3600:02d}:{s_ // 60 % 60:02d}:{s_ % 60:02d}:{f:02d}"


def _read_cut(path: Path, root: Path) -> dict[str, Any]:
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
              "media": f"/media/take/{v.take}" if not v.baked else "",
              "reason": str(v.meta.get("reason", "")), "score": v.meta.get("score")}
             for i, v in enumerate(views)]
    seconds = views[-1].record_end / fps if views else 0.0
    return {"clips": clips, "seconds": round(seconds, 3), "fps": fps, "title": timeline.name}


def create_app(project_root: Path, *, allowed_hosts: list[str] | None = None) -> FastAPI:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    board = Board(Path(project_root))
    templates = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(),
                            trim_blocks=True, lstrip_blocks=True)
    app = FastAPI(title="dreamcut review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.board = board
    hosts = set(allowed_hosts or []) | {"127.0.0.1", "localhost", "::1", "testserver"}
    from starlette.middleware.gzip import GZipMiddleware

    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(_BodyLimit, limit=MAX_BODY)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if "*" not in hosts and (request.url.hostname or "") not in hosts:
            return JSONResponse({"detail": "unknown host"}, status_code=400)
        if request.method not in ("GET", "HEAD") and request.headers.get("x-dreamcut") != "1":
            return JSONResponse({"detail": "missing X-Dreamcut header"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/", response_class=HTMLResponse)
    def index() -> StreamingResponse:
        rows = board.rows()
        shots = board.shots()
        by_shot: dict[str, list[dict]] = {s["id"]: [] for s in shots}
        for r in rows:
            by_shot.setdefault(r["shot_id"], []).append(r)
        sheets = {sid: (board.project.previews_dir / sid / "contact_sheet.png").is_file() for sid in by_shot}
        parts = templates.get_template("board.html").generate(
            title=board.project.spec.title, shots=shots, by_shot=by_shot, selections=board.selections(),
            sheets=sheets, total=len(rows), now=board.changes(0.0)["now"], usage=board.usage(),
            source=board.edit()["source"])
        # Streamed in ~32 kB pieces: the browser paints the header and the first shots while the
        # rest of a 700-take board is still being rendered and sent.
        return StreamingResponse(_chunked(parts), media_type="text/html; charset=utf-8",
                                 headers={"Cache-Control": "no-store"})

    @app.exception_handler(DreamcutError)
    async def _work_failed(request: Request, exc: DreamcutError) -> JSONResponse:
        # ffmpeg refusing a file (a take that is not a video) is the file's fault: 422, one line.
        return JSONResponse({"detail": exc.message[:300]}, status_code=422)

    @app.exception_handler(ValueError)
    async def _bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": "bad request"}, status_code=400)

    @app.get("/thumb/{take_id}.jpg")
    def thumb(take_id: str) -> FileResponse:
        src = board.take_file(take_id)
        return FileResponse(board_media.ensure_poster(board.project.cache_dir, take_id, src), media_type="image/jpeg",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/proxy/{take_id}.mp4")
    def proxy(take_id: str) -> FileResponse:
        src = board.take_file(take_id)
        return FileResponse(board_media.ensure_proxy(board.project.cache_dir, take_id, src), media_type="video/mp4",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/media/take/{take_id}")
    def full_take(take_id: str) -> FileResponse:
        return FileResponse(board.take_file(take_id), media_type="video/mp4")

    @app.get("/media/song")
    def song_file() -> FileResponse:
        try:
            song = board.project.song_path
        except Exception:
            raise HTTPException(404, "the spec names no song") from None
        if not board.project.inside(song) or not song.resolve().is_file():
            raise HTTPException(404, "song not found inside the project")
        return FileResponse(song.resolve())

    @app.get("/api/song")
    def api_song() -> dict:
        return board.song()

    @app.get("/files/{rel:path}")
    def project_file(rel: str) -> FileResponse:
        resolved = board.media_file(rel)
        if resolved is None:
            raise HTTPException(404, "not found")
        return FileResponse(resolved)

    @app.get("/api/board")
    def api_board() -> dict:
        return {"shots": board.shots(), "takes": board.rows(), "selections": board.selections(),
                "now": board.changes(0.0)["now"]}

    @app.get("/api/changes")
    def api_changes(since: float = 0.0) -> dict:
        return board.changes(since)

    @app.post("/api/review/{take_id}")
    async def api_review(take_id: str, request: Request) -> dict:
        body = await _json_object(request)
        import anyio

        return await anyio.to_thread.run_sync(board.set_review, take_id, body)

    @app.get("/api/cut")
    def api_cut() -> dict:
        return board.cut()

    @app.get("/api/slot/{slot}/takes")
    def api_slot_takes(slot: int) -> dict:
        return board.slot_takes(slot)

    @app.post("/api/edit")
    async def api_edit(request: Request) -> dict:
        body = await _json_object(request)
        import anyio

        return await anyio.to_thread.run_sync(board.change_edit, body)

    @app.get("/api/history")
    def api_history() -> list:
        with board.lock:
            return [c.__dict__ for c in board.catalog.edit_history()]

    @app.post("/api/jobs")
    async def api_jobs_start(request: Request) -> dict:
        body = await _json_object(request)
        return board.start_job(str(body.get("action")), body.get("shot"), body.get("variants"),
                               confirm=body.get("confirm") is True)

    @app.get("/api/jobs")
    def api_jobs() -> list:
        return sorted(board.jobs.values(), key=lambda j: j["started_at"], reverse=True)

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        path = (HERE / "static" / name).resolve()
        if path.parent != (HERE / "static").resolve() or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, headers={"Cache-Control": "max-age=600"})

    return app


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(project_root: Path, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          allowed_hosts: list[str] | None = None) -> None:
    """Run the board until interrupted (the CLI's `dreamcut review`).

    Listening beyond this machine needs the names it may be reached by (`allowed_hosts`): a
    wildcard bind never turns the Host check off.
    """
    import uvicorn

    if host not in LOOPBACK and not allowed_hosts:
        raise BadInput(f"--host {host} listens beyond this machine", where="--host",
                       fix="also name the host names the board may be reached by: --allowed-host NAME (repeatable)")
    app = create_app(project_root, allowed_hosts=list(allowed_hosts or []) + ([host] if host not in ("0.0.0.0", "::")
                                                                             else []))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if open_browser:
        import webbrowser

        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    print(f"review board: {url}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


class _BodyLimit:
    """Refuse request bodies over `limit` bytes with 413, by Content-Length or as they stream."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    return await JSONResponse({"detail": f"request body over {self.limit} bytes"},
                                              status_code=413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def json_depth(data: bytes) -> int:
    """How deeply `data` (JSON text) nests arrays and objects, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for b in data:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


async def _json_object(request: Request) -> dict:
    """The request's JSON body, which must be an object (422 otherwise), at most MAX_JSON_DEPTH deep."""
    raw = await request.body()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise HTTPException(422, f"JSON nested more than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise HTTPException(422, "send a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(422, "send a JSON object")
    return body
