"""Speed ramps into a downbeat: which clip ramps, how far, and the curve the renderer draws.

A ramp changes which source frames are read, so it is part of the render plan, not a post filter:

- `ramp_downbeats(song, levels, ...)`: the first downbeat of each section whose `ramp` level is
  on, as a timeline frame (rounded like the planner's cuts, so a ramp into a cut lands on it).
- `plan_ramps(items, downbeats, room, ...)`: pure decisions. The clip playing into the downbeat
  is ramped over the last two beats before it: its speed moves linearly from its own speed to
  `peak` times it ('rush' > 1, 'slow' < 1) and snaps back on the downbeat frame. A rush reads
  more of the take; where the take has no room after the clip the peak is lowered to what fits,
  or the ramp is dropped, and each such decision is returned as a sentence.
- `ramp_setpts`: the curve `render.ffmpeg` draws inside its one pass: the clip's `setpts` maps
  source time to output time through the ramp (a square root: the inverse of a linear speed
  change), then `fps` picks the frames; `ramp_extra` is the one home of how much more (or less)
  of the take a ramp reads.
- `ramp_markers` carries each ramp to the NLE exports as a marker with its keyframes in the OTIO
  metadata: the clip's LinearTimeWarp stays its base speed, since no export format here carries
  a non-linear warp.

`render.effects.timeline_ramps` is the I/O edge (it probes the takes for the room they hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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
        return ramp_extra(self.frames, self.speed, self.peak)

    def speed_at(self, record_frame: int) -> float:
        """The playback speed at a timeline frame (the clip's own speed outside the ramp)."""
        if self.start <= record_frame < self.downbeat:
            return self.speed * (1.0 + (self.peak - 1.0) * (record_frame - self.start) / self.frames)
        return self.speed


def ramp_extra(frames: int, speed: float, peak: float) -> float:
    """Source frames a linear speed ramp from `speed` to `peak`*speed over `frames` output frames
    reads beyond the linear read (negative when it slows): the one home of this fact."""
    return speed * frames * (peak - 1.0) / 2.0


def ramp_setpts(fps: int, speed: float, at: int, frames: int, peak: float) -> str:
    """`setpts` for a stream whose speed ramps linearly from `speed` to `peak`*speed over output frames
    [at, at+frames) and is `speed` again from there (a speed ramp into a downbeat).

    Source time s (from the stream's first frame) maps to output time: s/v before the ramp;
    inside it s = v*a + v*r*(u + (p-1)*u^2/2) with u the fraction of the ramp played, so
    u = (sqrt(1 + 2*(p-1)*x) - 1)/(p-1) with x = (s - v*a)/(v*r); after it, linear again. `fps`
    then keeps the frame nearest each output tick, so the ramp's last step lands on frame at+frames.
    """
    v, a, r, p = speed, at / fps, frames / fps, peak
    s_a = v * a
    s_b = v * (a + r * (1.0 + p) / 2.0)
    k = p - 1.0
    expr = (f"st(0\\,T-STARTT)+if(lt(ld(0)\\,{s_a:.9f})\\,ld(0)/{v:.9f}\\,"
            f"if(lt(ld(0)\\,{s_b:.9f})\\,{a:.9f}+{r:.9f}*(sqrt(1+{2 * k:.9f}*(ld(0)-{s_a:.9f})/{v * r:.9f})-1)/{k:.9f}\\,"
            f"{a + r:.9f}+(ld(0)-{s_b:.9f})/{v:.9f}))")
    # st() returns the value stored; subtract it again so the sum is the mapped time alone
    return f"setpts=({expr}-ld(0))/TB"


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
        if nxt is not None and nxt.rendered_kind == tl.ZOOM_THROUGH and frame > clip.record_end - nxt.in_frames:
            notes.append(f"no ramp: {where} meets the zoom-through after clip {clip.name}, which is drawn frame by frame")
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


__all__ = ["SpeedRamp", "ramp_downbeats", "plan_ramps", "ramp_markers", "ramp_extra", "ramp_setpts", "RAMP_BEATS",
           "RAMP_PEAK", "RAMP_FLOOR", "MIN_RAMP_FRAMES", "MIN_RAMP_CHANGE"]
