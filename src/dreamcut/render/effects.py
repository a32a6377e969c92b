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
- `filter_chain(cues, fps, size)`: the ffmpeg text appended to the one render pass:
  `scale` with per-frame size expressions then a `crop` back to the work size with per-frame
  x/y (zoom and shake; outside a cue the scale is the identity and passes frames through),
  and `eq` with `eval=frame` and an `enable` window (flash). No per-frame Python.

Speed ramps into a downbeat change which source frames are read, so they are part of the
render plan, not a post filter:

- `ramp_downbeats(song, levels, ...)`: the first downbeat of each section whose `ramp` level is
  on, as a timeline frame (rounded like the planner's cuts, so a ramp into a cut lands on it).
- `plan_ramps(items, downbeats, room, ...)`: pure decisions. The clip playing into the downbeat
  is ramped over the last two beats before it: its speed moves linearly from its own speed to
  `peak` times it ('rush' > 1, 'slow' < 1) and snaps back on the downbeat frame. A rush reads
  more of the take; where the take has no room after the clip the peak is lowered to what fits,
  or the ramp is dropped, and each such decision is returned as a sentence.
- `render.ffmpeg` draws a ramp inside the one pass: the clip's `setpts` maps source time to
  output time through the ramp's curve (a square root: the inverse of a linear speed change),
  then `fps` picks the frames. `ramp_markers` carries each ramp to the NLE exports as a marker
  with its keyframes in the OTIO metadata: the clip's LinearTimeWarp stays its base speed, since
  no export format here carries a non-linear warp.

`markers(cues, fps)` gives OTIO markers, one per cue, so the NLE exports carry the effects as
markers (their formats cannot carry the expressions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

EFFECT_KINDS = ("pulse", "flash", "shake")
HOP = 256                     # onset strength hop at 22.05 kHz: 11.6 ms
KICK_BAND = (30.0, 150.0)     # Hz
SNARE_BAND = (1000.0, 6000.0)

# How each effect looks at level 1.0 and full section energy.
PULSE_ZOOM = 0.08             # +8 % zoom at the hit, easing back
PULSE_FRAMES = 6
FLASH_BRIGHTNESS = 0.35       # eq brightness (-1..1) at the hit, fading out
FLASH_FRAMES = 4
SHAKE_PIXELS = 0.012          # shake amplitude as a fraction of the frame width
SHAKE_FRAMES = 6
SHAKE_TOP = 0.25              # the strongest quarter of the hits shake


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


def with_markers(timeline: Any, cues: list[Cue], fps: int, ramps: list["SpeedRamp"] | None = None) -> Any:
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


def _index(fps: int) -> str:
    """The frame index as an expression: t*fps, and 0 where t is not defined (a filter's setup
    evaluates x/y once with t = NAN, and `crop` refuses a NAN position)."""
    return f"(if(isnan(t)\\,0\\,t)*{fps})"


def _curve(cues: list[Cue], peak: float, fps: int, power: int = 1) -> str:
    """An ffmpeg expression of the frame index (t*fps): each cue `amount*peak*(1-(i-f)/L)^power` in its window.

    Written in `t`, not `n`: `scale` counts `n` from 1 with eval=frame, `crop` and `eq` from 0.
    Frame k's timestamp is exactly k/fps after the graph's setpts, so t*fps is the index.
    """
    i = _index(fps)
    terms = []
    for c in cues:
        fall = f"(1-({i}-{c.frame})/{c.frames})"
        if power > 1:
            fall = "*".join([fall] * power)
        terms.append(f"between({i}\\,{c.frame - 0.5}\\,{c.frame + c.frames - 0.5})*{c.amount * peak:.5f}*{fall}")
    if not terms:
        return "0"
    # `if` evaluates its branch only when the gate holds: outside this run a frame costs one test.
    first, last = min(c.frame for c in cues), max(c.frame + c.frames for c in cues)
    return f"if(between({i}\\,{first - 0.5}\\,{last - 0.5})\\,{'+'.join(terms)}\\,0)"


def _window(cues: list[Cue], fps: int) -> str:
    i = _index(fps)
    if not cues:
        return "0"
    first, last = min(c.frame for c in cues), max(c.frame + c.frames for c in cues)
    inner = "+".join(f"between({i}\\,{c.frame - 0.5}\\,{c.frame + c.frames - 0.5})" for c in cues)
    return f"if(between({i}\\,{first - 0.5}\\,{last - 0.5})\\,{inner}\\,0)"


CHUNK = 16  # cues per filter instance: ffmpeg refuses very long expressions, so a song's cues are split


def _chunks(cues: list[Cue]) -> list[list[Cue]]:
    """Cues in time order, split into runs of at most CHUNK whose frame windows do not overlap the next run's."""
    out: list[list[Cue]] = []
    run: list[Cue] = []
    end = -1
    for c in sorted(cues, key=lambda c: c.frame):
        if len(run) >= CHUNK and c.frame >= end:
            out.append(run)
            run = []
        run.append(c)
        end = max(end, c.frame + c.frames)
    if run:
        out.append(run)
    return out


def filter_chain(cues: list[Cue], fps: int, size: tuple[int, int]) -> str:
    """The filter text (input and output unlabelled, joined with ',') for the cues at work `size`; '' for none.

    Zoom and shake: `scale` with eval=frame enlarges the picture by the zoom factor (at factor 1
    it passes the frame through) and `crop` cuts the work size back out, centred plus the shake
    offset (`crop` reads its w/h once, its x/y every frame). Flash: `eq` brightness, enabled only
    inside the flash windows. Each filter carries at most CHUNK cues (runs of the song in time
    order); outside its run's windows it leaves the frame as it is.
    """
    if not cues:
        return ""
    w, h = size
    parts = []
    for run in _chunks([c for c in cues if c.kind in ("pulse", "shake")]):
        pulses = [c for c in run if c.kind == "pulse"]
        shakes = [c for c in run if c.kind == "shake"]
        # zoom factor: the pulse plus the margin a shake needs; the crop moves inside that margin
        zoom = f"(1+{_curve(pulses, PULSE_ZOOM, fps, 2)}+{_curve(shakes, 2 * SHAKE_PIXELS, fps)})"
        dx = f"({_curve(shakes, SHAKE_PIXELS * w, fps)})*sin({_index(fps)}*2.3)" if shakes else "0"
        dy = f"({_curve(shakes, SHAKE_PIXELS * w * 0.6, fps)})*cos({_index(fps)}*3.1)" if shakes else "0"
        parts.append(f"scale=w='2*trunc({w}*{zoom}/2)':h='2*trunc({h}*{zoom}/2)':eval=frame:flags=bilinear")
        # (crop clamps x/y to the frame it gets; its `iw` is the size at setup, so it is not used here)
        parts.append(f"crop=w={w}:h={h}:x='trunc(({w}*{zoom}-{w})/2+{dx})':y='trunc(({h}*{zoom}-{h})/2+{dy})'")
    if parts:
        parts.append("setsar=1")
    for run in _chunks([c for c in cues if c.kind == "flash"]):
        parts.append(f"eq=brightness='{_curve(run, FLASH_BRIGHTNESS, fps)}':eval=frame:"
                     f"enable='{_window(run, fps)}'")
    return ",".join(parts)


def markers(cues: list[Cue], fps: int) -> list:
    """One OTIO marker per cue (name 'fx pulse 0.42'), on the frames it covers, for the NLE exports."""
    from dreamcut import timeline as tl

    colour = {"pulse": "ORANGE", "flash": "YELLOW", "shake": "RED"}
    return [tl.effect_marker(f"fx {c.kind} {c.amount:.2f}", c.frame, c.frames, fps, effect=c.kind, amount=c.amount,
                             time=c.time, color=colour[c.kind]) for c in cues]


# -- speed ramps into a downbeat ---------------------------------------------------------

RAMP_BEATS = 2            # a ramp lasts the two beats before its downbeat
RAMP_PEAK = 3.0           # 'rush' at level 1: the speed climbs to 3x the clip's own
RAMP_FLOOR = 0.3          # 'slow' at level 1: the speed falls to 0.3x
MIN_RAMP_FRAMES = 6       # shorter than a quarter second at 24 fps is a jump, not a ramp
MIN_RAMP_CHANGE = 0.25    # a ramp that cannot move the speed by a quarter is dropped


@dataclass(frozen=True)
class SpeedRamp:
    """A speed ramp on one clip, landing on a downbeat.

    Over the record frames [start, downbeat) the clip's speed moves linearly from its own speed
    to `peak` times it; from the `downbeat` frame on it plays at its own speed again, `extra`
    source frames (at the timeline's rate) later than it would have without the ramp.
    """

    clip: str          # the clip's name on V1
    record_start: int  # the clip's first record frame (names the clip where names repeat)
    downbeat: int      # timeline frame the ramp lands on
    frames: int        # record frames the ramp lasts, ending on the downbeat
    peak: float        # speed multiple reached at the end of the ramp (x the clip's speed)
    speed: float       # the clip's own speed (LinearTimeWarp)
    time: float        # the downbeat's time on the timeline (s)

    @property
    def start(self) -> int:
        return self.downbeat - self.frames

    @property
    def extra(self) -> float:
        """Source frames read beyond the clip's linear read (negative for a slow ramp)."""
        return self.speed * self.frames * (self.peak - 1.0) / 2.0

    def speed_at(self, record_frame: int) -> float:
        """The playback speed at a timeline frame (the clip's own speed outside the ramp)."""
        if self.start <= record_frame < self.downbeat:
            return self.speed * (1.0 + (self.peak - 1.0) * (record_frame - self.start) / self.frames)
        return self.speed


def ramp_downbeats(song: Any, levels: Any, *, fps: int, total_frames: int,
                   song_start: float = 0.0) -> list[tuple[int, float, float, str]]:
    """(timeline frame, timeline time, ramp level, section) of the downbeats that get a ramp.

    The first downbeat of each section whose level is on (half a beat of slack before the
    section mark, which the analysis places on a beat). Frames are rounded as the planner
    rounds its cuts, so a ramp into a cut on that downbeat ends exactly at the cut.
    """
    downbeats = sorted(float(d) for d in (getattr(song, "downbeats", None) or []))
    tempo = float(getattr(song, "tempo", 0.0) or 120.0)
    slack = 30.0 / tempo
    out = []
    for sec in getattr(song, "sections", None) or []:
        level = float(levels(sec.label).get("ramp", 0.0))
        if level <= 0:
            continue
        first = next((d for d in downbeats if d >= sec.start - slack), None)
        if first is None or first >= sec.end:
            continue
        frame = int(round((first - song_start) * fps))
        if MIN_RAMP_FRAMES <= frame < total_frames:
            out.append((frame, round(first - song_start, 4), level, sec.label))
    return out


def plan_ramps(items: list[Any], downbeats: list[tuple[int, float, float, str]], room: dict[int, float], *,
               fps: int, beat_frames: int, style: str = "rush") -> tuple[list[SpeedRamp], list[str]]:
    """The ramps of an edit and the sentences saying where one was lowered or dropped (pure).

    items: V1 as `timeline.items` views. room: per clip (by record_start) the source frames its
    take holds after the last frame the clip reads (its transition handle included).
    """
    from dreamcut import timeline as tl

    ramps: list[SpeedRamp] = []
    notes: list[str] = []
    for frame, time, level, label in downbeats:
        where = f"the ramp into the {label or 'section'} downbeat at {time:.2f} s (frame {frame})"
        k = next((i for i, it in enumerate(items) if not isinstance(it, tl.TransitionView)
                  and it.record_start < frame <= it.record_end), None)
        if k is None:
            continue
        clip = items[k]
        if isinstance(clip, tl.GapView):
            notes.append(f"no ramp: {where} falls in a gap")
            continue
        prev = items[k - 1] if k > 0 and isinstance(items[k - 1], tl.TransitionView) else None
        nxt = items[k + 1] if k + 1 < len(items) and isinstance(items[k + 1], tl.TransitionView) else None
        if nxt is not None and frame == clip.record_end and nxt.rendered_kind == tl.ZOOM_THROUGH:
            notes.append(f"no ramp: {where} meets a zoom-through at the cut, which is drawn frame by frame")
            continue
        earliest = clip.record_start + (prev.out_frames if prev is not None and prev.rendered_kind == tl.ZOOM_THROUGH else 0)
        n = min(RAMP_BEATS * beat_frames, frame - earliest)
        if n < MIN_RAMP_FRAMES:
            notes.append(f"no ramp: {where}: clip {clip.name} starts {frame - earliest} frames before it "
                         f"(a ramp needs {MIN_RAMP_FRAMES})")
            continue
        want = 1.0 + level * (RAMP_PEAK - 1.0) if style == "rush" else 1.0 - level * (1.0 - RAMP_FLOOR)
        # Whole source frames of extra read: after the ramp the clip is back on its own frame grid.
        extra = round(clip.speed * n * (want - 1.0) / 2.0)
        if extra > 0:
            have = int(np.floor(room.get(clip.record_start, 0.0) + 1e-6))
            if extra > have:
                extra = have
                peak = 1.0 + 2.0 * extra / (clip.speed * n)
                if peak - 1.0 < MIN_RAMP_CHANGE:
                    notes.append(f"no ramp: {where}: take {clip.take} holds {max(0, have)} frames after clip "
                                 f"{clip.name} and the ramp would read {round(clip.speed * n * (want - 1) / 2)} more")
                    continue
                notes.append(f"{where} peaks at {peak:.2f}x, not {want:.2f}x: take {clip.take} holds only "
                             f"{have} frames after clip {clip.name}")
        peak = 1.0 + 2.0 * extra / (clip.speed * n)
        if abs(peak - 1.0) < MIN_RAMP_CHANGE:
            continue
        ramps.append(SpeedRamp(clip=clip.name, record_start=clip.record_start, downbeat=frame, frames=n,
                               peak=peak, speed=clip.speed, time=time))
    return ramps, notes


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


def ramp_markers(ramps: list[SpeedRamp], fps: int) -> list:
    """One OTIO marker per ramp over its frames, with the ramp's speed keyframes in its metadata."""
    from dreamcut import timeline as tl

    out = []
    for r in ramps:
        m = tl.effect_marker(f"fx ramp {r.speed:.2f}x to {r.speed * r.peak:.2f}x into downbeat", r.start, r.frames,
                             fps, effect="ramp", amount=r.peak, time=r.time, color="PURPLE")
        m.metadata["dreamcut"]["ramp"] = {
            "clip": r.clip, "downbeat": r.downbeat, "frames": r.frames, "peak": r.peak, "speed": r.speed,
            "extra_source_frames": r.extra,
            # speed (source frames per record frame) at timeline frames: linear between the first two
            "keyframes": [[r.start, r.speed], [r.downbeat, round(r.speed * r.peak, 6)], [r.downbeat, r.speed]]}
        out.append(m)
    return out


__all__ = ["SpeedRamp", "ramp_downbeats", "plan_ramps", "timeline_ramps", "ramp_markers", "Hit", "Cue", "percussive_hits", "song_hits", "plan_effects", "timeline_cues", "with_markers", "section_energy", "filter_chain",
           "markers", "EFFECT_KINDS"]
