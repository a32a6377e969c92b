"""Beat-synced motion: zoom pulses, exposure flashes and shakes on the song's percussive hits.

Opt-in through the spec's `effects:` field (off by default: with it absent or all zero the
render graph is exactly what it was). Three layers:

- `percussive_hits(samples)`: the I/O-free analysis. librosa separates the harmonic and
  percussive parts (`librosa.effects.hpss`), onsets are detected on the percussive part, each
  refined to the sample where its attack starts, and told apart as a *kick* (energy below
  150 Hz dominates) or a *snare* (energy in 1-6 kHz dominates) by spectral band.
- `plan_effects(hits, song, levels, ...)`: pure decisions. Kicks drive the zoom pulse,
  snares the flash, the strongest hits of either the shake; each amount is scaled by the
  energy of the section it falls in (a loud chorus moves more than a quiet verse) and by the
  spec's levels for that section. Times become frames of the timeline (song time minus the
  edit's song offset), so an effect starts on the frame its hit falls in.
- `frame_looks(cues, fps, size)`: each affected frame's zoom size, crop offset and brightness,
  computed once in Python (pure); `filter_chain` turns them into one `sendcmd` that sets a
  named `scale` + `crop` (zoom and shake) and `eq` (flash) only on the frames where the look
  changes. Plain frames pass through an identity scale, a whole-frame crop and a disabled
  `eq`; no expression is evaluated per frame, and no frame is drawn in Python.

Speed ramps into a downbeat (the spec's `ramp` level) change which source frames are read, so they are
part of the render plan: their decisions and curve live in `render.ramps`; `timeline_ramps` here
is their I/O edge (it probes each ramped clip's take for the room it holds).

`markers(cues, fps)` gives OTIO markers, one per cue, so the NLE exports carry the effects as
markers (their formats cannot carry the expressions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamcut.render.ramps import SpeedRamp, plan_ramps, ramp_downbeats, ramp_markers

EFFECT_KINDS = ("pulse", "flash", "shake")
HOP = 256                     # onset strength hop at 22.05 kHz: 11.6 ms
KICK_BAND = (30.0, 150.0)     # Hz
SNARE_BAND = (1000.0, 6000.0)

# How each effect looks at level 1.0 and full section energy.
PULSE_ZOOM = 0.08             # +8 % zoom at the hit, easing back
PULSE_FRAMES = 5
FLASH_BRIGHTNESS = 0.35       # eq brightness (-1..1) at the hit, fading out
FLASH_FRAMES = 4
SHAKE_PIXELS = 0.012          # shake amplitude as a fraction of the frame width
SHAKE_FRAMES = 6
SHAKE_TOP = 0.25              # the strongest quarter of the hits shake
# The tail of an ease that moves no point of the picture by 0.35 % of its width (4.5 px at 1280) is
# left plain: unseen at 24 fps after the larger steps before it, yet every resampled frame costs
# x264 a whole frame of motion search and residual (~1.8x a plain frame on still footage).
STILL_MOVE = 0.0035


@dataclass(frozen=True)
class Hit:
    """A percussive onset in the song: `time` (s), `kind` ('kick' | 'snare' | 'hit'), `strength` 0..1."""

    time: float
    kind: str
    strength: float


@dataclass(frozen=True)
class Cue:
    """One effect on the timeline: starts at `frame`, lasts `frames`, peak `amount` (0..1 of its maximum)."""

    kind: str          # 'pulse' | 'flash' | 'shake'
    frame: int
    frames: int
    amount: float
    time: float        # the hit's time on the timeline (s), for markers and tests


# -- analysis (no I/O) ------------------------------------------------------------------


def percussive_hits(y: np.ndarray, sr: int) -> list[Hit]:
    """Percussive onsets of mono samples `y`: hpss, onset detection on the percussive part, band split."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < sr // 4:
        return []
    stft = librosa.stft(y, n_fft=1024, hop_length=HOP)
    # The median filters of hpss are its cost: run them on 96 mel bands, not 513 bins (4-5x
    # faster, the same masks to the ear), then spread each band's percussive mask back to its bins.
    bands = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=96)
    _, mask = librosa.decompose.hpss(bands @ np.abs(stft), mask=True)
    spread = bands / np.maximum(bands.sum(axis=0, keepdims=True), 1e-9)
    perc = stft * (spread.T @ mask)
    mag = np.abs(perc)
    y_perc = librosa.istft(perc, hop_length=HOP, length=y.size)
    env = librosa.onset.onset_strength(y=y_perc, sr=sr, hop_length=HOP)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=HOP, units="frames",
                                        backtrack=False, delta=0.07,
                                        wait=max(1, int(0.06 * sr / HOP)))
    if len(frames) == 0:
        return []
    freqs = librosa.fft_frequencies(sr=sr, n_fft=1024)
    low = (freqs >= KICK_BAND[0]) & (freqs < KICK_BAND[1])
    mid = (freqs >= SNARE_BAND[0]) & (freqs < SNARE_BAND[1])
    peak = float(env[frames].max()) or 1.0
    hits = []
    for f in frames:
        span = slice(f, min(mag.shape[1], f + 3))
        lo, hi = float(mag[low, span].mean()), float(mag[mid, span].mean())
        kind = "kick" if lo > 2.0 * hi else ("snare" if hi > 0.5 * lo else "hit")
        hits.append(Hit(time=float(_attack(y_perc, sr, int(f) * HOP)), kind=kind, strength=float(env[f]) / peak))
    return hits


def _attack(y: np.ndarray, sr: int, around: int) -> float:
    """The attack time near sample `around`: where the percussive envelope first rises past half its peak."""
    lo, hi = max(0, around - 2 * HOP), min(y.size, around + 2 * HOP)
    seg = np.abs(y[lo:hi])
    if seg.size == 0:
        return around / sr
    win = max(1, sr // 2000)  # 0.5 ms smoothing
    envelope = np.convolve(seg, np.ones(win) / win, mode="same")
    top = envelope.max()
    if top <= 0:
        return around / sr
    first = int(np.argmax(envelope >= 0.5 * top))
    return (lo + first) / sr


def song_hits(song: Path, cache_dir: Path | None = None) -> list[Hit]:
    """`percussive_hits` of a song file, cached by its content hash in `cache_dir` (the I/O edge)."""
    from dreamcut.analysis.audio import ANALYSIS_SR, load_audio
    from dreamcut.media import file_sha256, write_text_atomic

    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"hits-{file_sha256(song)[:32]}-h{HOP}.json"
        if cache.is_file():
            try:
                return [Hit(**h) for h in json.loads(cache.read_text(encoding="utf-8"))]
            except (ValueError, TypeError):
                pass  # a damaged cache entry is recomputed
    y, _ = load_audio(song)
    hits = percussive_hits(y, ANALYSIS_SR)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cache, json.dumps([asdict(h) for h in hits]))
    return hits


# -- decisions (pure) -------------------------------------------------------------------


def section_energy(song: Any) -> list[tuple[float, float, str, float]]:
    """(start, end, label, energy 0..1) per section of a SongAnalysis: mean energy over the loudest section's."""
    times = np.asarray(getattr(song, "energy_times", []) or [], dtype=float)
    energy = np.asarray(getattr(song, "energy", []) or [], dtype=float)
    sections = list(getattr(song, "sections", []) or [])
    if not sections:
        return [(0.0, float("inf"), "", 1.0)]
    means = []
    for s in sections:
        sel = energy[(times >= s.start) & (times < s.end)] if times.size else np.array([])
        means.append(float(sel.mean()) if sel.size else 0.0)
    top = max(means) or 1.0
    return [(s.start, s.end, s.label, m / top) for s, m in zip(sections, means)]


def plan_effects(hits: list[Hit], song: Any, levels: Any, *, fps: int, total_frames: int,
                 song_start: float = 0.0) -> list[Cue]:
    """Cues on the timeline for `hits` (song seconds). `levels(label) -> {'pulse','flash','shake'}` 0..1.

    The edit plays the song from `song_start`, so a hit at song time t lands on timeline frame
    floor((t - song_start) * fps + 1e-6): the frame being shown when the hit sounds.
    """
    sections = section_energy(song)
    strengths = sorted((h.strength for h in hits), reverse=True)
    shake_floor = strengths[max(0, int(len(strengths) * SHAKE_TOP) - 1)] if strengths else 1.0
    cues: list[Cue] = []
    for h in hits:
        t = h.time - song_start
        frame = int(np.floor(t * fps + 1e-6))
        if frame < 0 or frame >= total_frames:
            continue
        label, energy = "", 1.0
        for start, end, lab, e in sections:
            if start - 1e-3 <= h.time < end - 1e-3:
                label, energy = lab, e
                break
        lv = levels(label)
        scale = (0.35 + 0.65 * energy) * (0.5 + 0.5 * h.strength)
        if h.kind in ("kick", "hit") and lv.get("pulse", 0) > 0:
            cues.append(Cue("pulse", frame, PULSE_FRAMES, round(lv["pulse"] * scale, 4), round(t, 4)))
        if h.kind in ("snare", "hit") and lv.get("flash", 0) > 0:
            cues.append(Cue("flash", frame, FLASH_FRAMES, round(lv["flash"] * scale, 4), round(t, 4)))
        if h.strength >= shake_floor and lv.get("shake", 0) > 0:
            cues.append(Cue("shake", frame, SHAKE_FRAMES, round(lv["shake"] * scale, 4), round(t, 4)))
    return _no_overlap(cues)


def timeline_cues(timeline: Any, settings: Any, song: Any, hits: list[Hit], fps: int) -> list[Cue]:
    """The cues of an edit: `settings` is the spec's EffectsSpec (None or all zero -> no cues)."""
    if settings is None or not settings.active:
        return []
    from dreamcut.errors import BadInput
    from dreamcut.render.ffmpeg import plan_render

    known = sorted({s.label for s in getattr(song, "sections", []) or []})
    for label in settings.sections:
        if label not in known:
            raise BadInput(f"effects.sections: the song has no section {label!r}",
                           where="dreamcut.yaml", fix=f"use one of: {', '.join(known) or '(none found)'}")
    plan = plan_render(timeline, fps)
    return plan_effects(hits, song, settings.levels, fps=fps, total_frames=plan.total_frames,
                        song_start=plan.song_start)


def with_markers(timeline: Any, cues: list[Cue], fps: int, ramps: list[SpeedRamp] | None = None) -> Any:
    """A copy of `timeline` with one marker per cue and per ramp on its video track (the timeline itself is untouched)."""
    import copy

    from dreamcut import timeline as tl

    if not cues and not ramps:
        return timeline
    out = copy.deepcopy(timeline)
    track = tl.video_track(out)
    for m in sorted(markers(cues, fps) + ramp_markers(ramps or [], fps),
                    key=lambda m: m.marked_range.start_time.value):
        track.markers.append(m)
    return out


def _no_overlap(cues: list[Cue]) -> list[Cue]:
    """Per kind, a cue is cut short where the next one starts (one expression term per frame)."""
    out: list[Cue] = []
    for kind in EFFECT_KINDS:
        mine = sorted((c for c in cues if c.kind == kind), key=lambda c: c.frame)
        for i, c in enumerate(mine):
            if i and mine[i - 1].frame == c.frame:
                continue
            nxt = mine[i + 1].frame if i + 1 < len(mine) else c.frame + c.frames
            out.append(Cue(c.kind, c.frame, max(1, min(c.frames, nxt - c.frame)), c.amount, c.time))
    return sorted(out, key=lambda c: (c.frame, c.kind))


@dataclass(frozen=True)
class Look:
    """How one frame differs from the plain picture: enlarged to `scaled` and cut back out at (x, y); `brightness` added."""

    scaled: tuple[int, int]
    x: int
    y: int
    brightness: float


def frame_looks(cues: list[Cue], fps: int, size: tuple[int, int]) -> dict[int, Look]:
    """The per-frame parameters of the cues at work `size` (pure): only frames that differ from the plain picture.

    Each cue peaks on its first frame and falls over its `frames`: a pulse enlarges the picture by
    `amount*PULSE_ZOOM*(1-j/L)^2`, a shake moves the cut-out by `amount*SHAKE_PIXELS*w*(1-j/L)`
    (sin/cos of the frame index, inside a margin it enlarges by), a flash adds
    `amount*FLASH_BRIGHTNESS*(1-j/L)` brightness. A frame whose picture would move less than
    the 2-pixel grid of the scaled size, move no point by `STILL_MOVE` of the width, or brighten
    by less than one level, is left plain.
    """
    w, h = size
    zoom: dict[int, float] = {}
    shake: dict[int, float] = {}
    bright: dict[int, float] = {}
    for c in cues:
        for j in range(c.frames):
            k, fall = c.frame + j, 1.0 - j / c.frames
            if c.kind == "pulse":
                zoom[k] = zoom.get(k, 0.0) + c.amount * PULSE_ZOOM * fall * fall
            elif c.kind == "shake":
                zoom[k] = zoom.get(k, 0.0) + c.amount * 2 * SHAKE_PIXELS * fall
                shake[k] = shake.get(k, 0.0) + c.amount * fall
            elif c.kind == "flash":
                bright[k] = bright.get(k, 0.0) + c.amount * FLASH_BRIGHTNESS * fall
    moved: dict[int, tuple[int, int, int, int]] = {}
    for k in sorted(zoom):
        z = 1.0 + zoom[k]
        sw, sh = 2 * int(w * z / 2), 2 * int(h * z / 2)
        dx = shake.get(k, 0.0) * SHAKE_PIXELS * w * np.sin(k * 2.3)
        dy = shake.get(k, 0.0) * SHAKE_PIXELS * w * 0.6 * np.cos(k * 3.1)
        moved[k] = (sw, sh, min(max(0, int((w * z - w) / 2 + dx)), sw - w), min(max(0, int((h * z - h) / 2 + dy)), sh - h))
    # an ease's tail that moves the picture less than STILL_MOVE is left plain (never a frame inside it)
    for k in sorted(moved, reverse=True):
        sw, sh, x, y = moved[k]
        if k + 1 not in moved and _largest_move((w, h), (sw, sh), x, y) < STILL_MOVE * w:
            del moved[k]
    looks: dict[int, Look] = {}
    for k in sorted(set(moved) | set(bright)):
        sw, sh, x, y = moved.get(k, (w, h, 0, 0))
        b = round(bright.get(k, 0.0), 4)
        look = Look((sw, sh), x, y, b if b >= 1 / 255 else 0.0)
        if look != Look((w, h), 0, 0, 0.0):
            looks[k] = look
    return looks


def _largest_move(size: tuple[int, int], scaled: tuple[int, int], x: int, y: int) -> float:
    """How far (px) the farthest picture point moves when the frame is enlarged to `scaled` and cut out at (x, y)."""
    move = 0.0
    for n, big, off in ((size[0], scaled[0], x), (size[1], scaled[1], y)):
        z = big / n
        move = max(move, abs(off / z), abs((n + off) / z - n))   # the two edges of the picture
    return move


_ZOOM, _FLASH = "scale@dcfx", "eq@dcfx"   # the named filters the commands address
_CROP = "crop@dcfx"


def effect_commands(looks: dict[int, Look], fps: int, size: tuple[int, int]) -> list[str]:
    """`sendcmd` lines that set each frame's look on the frame it starts and put the plain one back after.

    A command is sent only where the look changes. Times are half a frame before the frame's
    timestamp (k/fps after the render graph's setpts), so each lands on its frame exactly.
    """
    w, h = size
    plain = Look((w, h), 0, 0, 0.0)
    lines: list[str] = []
    prev = plain
    for k in sorted(set(looks) | {k + 1 for k in looks}):
        look = looks.get(k, plain)
        cmds = []
        if (look.scaled, look.x, look.y) != (prev.scaled, prev.x, prev.y):
            cmds += [f"{_ZOOM} w {look.scaled[0]}", f"{_ZOOM} h {look.scaled[1]}", f"{_CROP} x {look.x}",
                     f"{_CROP} y {look.y}"]
        if look.brightness != prev.brightness:
            if look.brightness and not prev.brightness:
                cmds.append(f"{_FLASH} enable 1")
            cmds.append(f"{_FLASH} brightness {look.brightness:.4f}")
            if not look.brightness:
                cmds.append(f"{_FLASH} enable 0")
        if cmds:
            lines.append(f"{max(0.0, (k - 0.5) / fps):.6f} {', '.join(cmds)};")
        prev = look
    return lines


def filter_chain(cues: list[Cue], fps: int, size: tuple[int, int]) -> str:
    """The filter text (input and output unlabelled, joined with ',') for the cues at work `size`; '' for none.

    The per-frame parameters are computed here once (`frame_looks`) and sent by one `sendcmd` to
    three named filters, only on the frames where they change: `scale` enlarges the picture
    (zoom, and the margin a shake moves in) and `crop` cuts the work size back out at the
    frame's offset; `eq` adds the flash's brightness and is disabled outside the flashes.
    Between cues the scale is the identity and the crop the whole frame, so plain frames pass
    through untouched; no expression is evaluated per frame.
    """
    looks = frame_looks(cues, fps, size)
    if not looks:
        return ""
    w, h = size
    text = "\n".join(effect_commands(looks, fps, size))
    parts = [f"sendcmd=c='{text}'"]
    if any(look.scaled != (w, h) or look.x or look.y for look in looks.values()):
        # threads=1: the scale is rebuilt on every size the commands set, and ffmpeg 9's swscale
        # starts a pool of slice threads with each rebuild; on a busy machine the pass waited on
        # them (a filter-only run on the bench edit: 2.4x the wall of the plain graph at 1.45x its
        # CPU; with one thread, 1.0-1.1x the wall at 1.25x the CPU)
        parts += [f"{_ZOOM}=w={w}:h={h}:flags=bilinear:threads=1", f"{_CROP}=w={w}:h={h}:x=0:y=0", "setsar=1"]
    if any(look.brightness for look in looks.values()):
        parts.append(f"{_FLASH}=brightness=0:enable=0")
    return ",".join(parts)


def markers(cues: list[Cue], fps: int) -> list:
    """One OTIO marker per cue (name 'fx pulse 0.42'), on the frames it covers, for the NLE exports."""
    from dreamcut import timeline as tl

    colour = {"pulse": "ORANGE", "flash": "YELLOW", "shake": "RED"}
    return [tl.effect_marker(f"fx {c.kind} {c.amount:.2f}", c.frame, c.frames, fps, effect=c.kind, amount=c.amount,
                             time=c.time, color=colour[c.kind]) for c in cues]


def timeline_ramps(timeline: Any, settings: Any, song: Any, fps: int, root: Path) -> tuple[list[SpeedRamp], list[str]]:
    """The speed ramps of an edit (`settings`: the spec's EffectsSpec) and the decisions to say.

    The I/O edge: probes the takes of the clips that play into a ramped downbeat for their length.
    """
    if settings is None or not settings.active:
        return [], []
    from dreamcut import timeline as tl
    from dreamcut.media import probe
    from dreamcut.render.ffmpeg import plan_render

    plan = plan_render(timeline, fps)
    downbeats = ramp_downbeats(song, settings.levels, fps=fps, total_frames=plan.total_frames,
                               song_start=plan.song_start)
    if not downbeats:
        return [], []
    items = tl.items(timeline, fps)
    room: dict[int, float] = {}
    for i, it in enumerate(items):
        if not isinstance(it, tl.ClipView) or not any(it.record_start < f <= it.record_end for f, *_ in downbeats):
            continue
        nxt = items[i + 1] if i + 1 < len(items) and isinstance(items[i + 1], tl.TransitionView) else None
        tail = nxt.out_frames if nxt is not None and nxt.rendered_kind != tl.ZOOM_THROUGH else 0
        path = Path(it.path)
        try:
            seconds = probe(path if path.is_absolute() else Path(root) / path).duration
        except Exception:  # noqa: BLE001 - the render's own media check names a bad take
            seconds = 0.0
        # one frame of margin: the render's check allows half a frame of rounding at the end
        room[it.record_start] = seconds * fps - (it.source_out + tail * it.speed) - 1.0
    beat = float(getattr(song, "beat_period", 0.0) or 60.0 / float(getattr(song, "tempo", 120.0) or 120.0))
    return plan_ramps(items, downbeats, room, fps=fps, beat_frames=max(1, int(round(beat * fps))),
                      style=settings.ramp_style)


__all__ = ["Look", "frame_looks", "effect_commands", "SpeedRamp", "ramp_downbeats", "plan_ramps", "timeline_ramps", "ramp_markers", "Hit", "Cue", "percussive_hits", "song_hits", "plan_effects", "timeline_cues", "with_markers", "section_energy", "filter_chain",
           "markers", "EFFECT_KINDS"]
