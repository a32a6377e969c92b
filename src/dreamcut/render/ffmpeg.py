"""Render a timeline to one video file with ONE ffmpeg process: a filtergraph, built by pure functions.

The edit, read through `dreamcut.timeline` (docs/internals.md), becomes a list of *streams*,
one per clip: the take trimmed to its source range (plus the handles a dissolve needs),
retimed by its speed (`setpts`; a speed ramp into a downbeat is a curve in the same `setpts`,
see `render.ramps.ramp_setpts`), normalised to the work size and fps (`scale` + `pad` +
`fps`; the work size is the output's shape no larger than the largest take, and the blended
picture is scaled to the output size once at the end), padded by cloning its last frame only
as a guard against a take that is a frame short, and trimmed to an exact frame count. Takes
are `movie` sources inside the graph (pulled when needed, not decoded ahead). Streams joined
by a dissolve or a dip to black are chained with `xfade` (`fade` / `fadeblack`); the chains
are joined with one `concat`. A zoom-through needs per-frame Python, so its frames (and only
those) are rendered first by `edit.transitions` into a lossless clip that the graph reads as
one more `movie` source; the two shots around it are cut short by the transition's offsets,
so the timeline's length holds.

The song is the A1 clip, read with `-ss`/`-t` and encoded without any filter: loudness
untouched (AAC 256k beside H.264, 24-bit PCM beside ProRes 422 HQ in a .mov). Container tags
(`metadata=`, the disclosure tags) are written by the same encode.

Everything is counted in frames at the timeline's rate, so the output lasts exactly the
timeline's duration. The file is written atomically; progress goes to `progress(fraction)`.

This module never changes the edit: no cut moves, no clip is added or dropped.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.edit import transitions as tr
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import FrameWriter, atomic_path, die_with_parent, ffmpeg_exe, probe, run_ffmpeg
from dreamcut.render.ramps import SpeedRamp, ramp_extra, ramp_setpts


CODECS = ("h264", "prores")
BLACK = "<black>"  # a Stream of black frames (a gap in an NLE's edit)

# The lossless intermediate for zoom-through frames (read back once by the main graph).
_LOSSLESS = ("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p")


# -- the plan: pure, frame-exact ------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """A run of `frames` output frames read from `media` starting at `start` (source seconds)."""

    media: str                 # project-relative path (or absolute for rendered zoom clips)
    start: float               # first source second
    frames: int                # output frames
    speed: float = 1.0         # source seconds per output second
    clip: str = ""             # the clip (take id) this comes from, for messages
    ramp: tuple[int, int, float] | None = None  # (first frame, frames, peak) of a speed ramp (render.effects)

    @property
    def source_frames(self) -> float:
        """Source frames read, at the output rate: frames * speed, plus what a ramp reads beyond that."""
        return self.frames * self.speed + (ramp_extra(self.ramp[1], self.speed, self.ramp[2]) if self.ramp else 0.0)


@dataclass(frozen=True)
class ZoomSegment:
    """A zoom-through to pre-render: `frames` frames from the end of `outgoing` and the start of `incoming`."""

    outgoing: Stream
    incoming: Stream
    frames: int


@dataclass
class Join:
    """How stream i+1 joins stream i: 'cut' (concat) or an xfade transition of `frames` frames."""

    kind: str
    frames: int = 0


@dataclass
class RenderPlan:
    """The edit as streams to read and how they join. `total_frames` = the timeline's duration in frames."""

    fps: int
    streams: list[Stream | ZoomSegment] = field(default_factory=list)
    joins: list[Join] = field(default_factory=list)   # len(streams) - 1
    total_frames: int = 0
    song: str | None = None
    song_start: float = 0.0


def plan_render(timeline: otio.schema.Timeline, fps: int, ramps: Sequence[SpeedRamp] = ()) -> RenderPlan:
    """Turn a timeline in dreamcut's conventions (read through `dreamcut.timeline`) into streams and joins.

    ramps: speed ramps into downbeats (`render.effects.timeline_ramps`); each rides on the stream
    of the clip it names (by record start), counted from that stream's first frame.
    """
    if not timeline.tracks or len(timeline.tracks) < 1:
        raise BadInput("timeline has no video track", where=timeline.name or "timeline")
    views = tl.items(timeline, fps)
    # Each clip or gap with the transitions on either side of it.
    parts: list[tl.ClipView | tl.GapView] = []
    before: list[tl.TransitionView | None] = []
    after: list[tl.TransitionView | None] = []
    pending: tl.TransitionView | None = None
    for item in views:
        if isinstance(item, tl.TransitionView):
            if not parts:
                raise BadInput("the video track starts with a transition", where=f"transition {item.name}",
                               fix="a transition sits between two clips")
            if isinstance(parts[-1], tl.GapView):
                raise BadInput("a transition next to a gap", where=f"transition {item.name}",
                               fix="remove the transition or fill the gap in the NLE")
            pending = item
            after[-1] = item
            continue
        if isinstance(item, tl.GapView) and pending is not None:
            # The planner never leaves gaps; an edit conformed from an NLE may. They render black.
            raise BadInput("a transition next to a gap", where=f"transition {pending.name}",
                           fix="remove the transition or fill the gap in the NLE")
        parts.append(item)
        before.append(pending)
        after.append(None)
        pending = None
    if pending is not None:
        raise BadInput("the video track ends with a transition", where=f"transition {pending.name}")
    if not parts:
        raise BadInput("the timeline has no clips", where=timeline.name or "timeline")

    def offsets(t: tl.TransitionView | None) -> tuple[str, int, int]:
        if t is None:
            return tr.CUT, 0, 0
        return t.rendered_kind, t.in_frames, t.out_frames

    plan = RenderPlan(fps=fps)
    takes: list[Stream] = []
    takes_after: list[tl.TransitionView | None] = []
    for i, part in enumerate(parts):
        if isinstance(part, tl.GapView):
            if part.record > 0:
                takes.append(Stream(media=BLACK, start=0.0, frames=part.record, clip="gap"))
                takes_after.append(None)
                plan.total_frames += part.record
            continue
        if not part.media:
            raise BadInput("clip has no media file", where=f"clip {part.name}",
                           fix="every clip on V1 must reference its take with an ExternalReference")
        speed, record = part.speed, part.record
        kb, in_b, out_b = offsets(before[i])
        ka, in_a, out_a = offsets(after[i])
        head = in_b if kb in tr.XFADE else (-out_b if kb == tr.ZOOM_THROUGH else 0)
        tail = out_a if ka in tr.XFADE else (-in_a if ka == tr.ZOOM_THROUGH else 0)
        frames = head + record + tail
        if frames < 1:
            raise BadInput("clip is shorter than the transitions around it", where=f"clip {part.name}",
                           fix="shorten the transitions or lengthen the clip")
        ramp = None
        for r in ramps:
            if r.record_start == part.record_start:
                at = head + r.start - part.record_start
                if at < 0 or at + r.frames > frames:
                    raise ValueError(f"the ramp into frame {r.downbeat} does not fit clip {part.name}")
                ramp = (at, r.frames, r.peak)
        takes.append(Stream(media=part.path, start=(part.source_in - head * speed) / fps, frames=frames,
                            speed=speed, clip=part.name, ramp=ramp))
        takes_after.append(after[i])
        plan.total_frames += record

    for i, stream in enumerate(takes):
        plan.streams.append(stream)
        if i + 1 == len(takes):
            break
        kind, t_in, t_out = offsets(takes_after[i])
        if kind == tr.ZOOM_THROUGH:
            n = t_in + t_out
            nxt = takes[i + 1]
            outgoing = Stream(media=stream.media, start=stream.start + stream.source_frames / fps,
                              frames=n, speed=stream.speed, clip=stream.clip)
            incoming = Stream(media=nxt.media, start=nxt.start - n * nxt.speed / fps, frames=n, speed=nxt.speed,
                              clip=nxt.clip)
            plan.joins.append(Join(tr.CUT))
            plan.streams.append(ZoomSegment(outgoing=outgoing, incoming=incoming, frames=n))
            plan.joins.append(Join(tr.CUT))
        else:
            plan.joins.append(Join(kind, t_in + t_out))

    song = tl.song_clip(timeline)
    if song is not None and getattr(song.media_reference, "target_url", None):
        plan.song = tl.media_path(song.media_reference.target_url)
        plan.song_start = song.source_range.start_time.to_seconds() if song.source_range else 0.0
    if plan.song is None:
        plan.song = tl.info(timeline).song
    return plan


def normalise_chain(size: tuple[int, int], fps: int, speed: float, frames: int,
                    ramp: tuple[int, int, float] | None = None) -> str:
    """The per-stream filter chain: retime, conform fps, letterbox to `size`, exact frame count."""
    w, h = size
    if ramp is not None:
        retime = ramp_setpts(fps, speed, *ramp)
    elif abs(speed - 1.0) < 1e-6:
        retime = "setpts=PTS-STARTPTS"
    else:
        retime = f"setpts=(PTS-STARTPTS)/{speed:.6f}"
    return (f"{retime},fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease:flags=bicubic,"
            f"pad={w}:{h}:-1:-1:color=black,setsar=1,format=yuv420p,"
            f"tpad=stop_mode=clone:stop=2,trim=end_frame={frames},setpts=PTS-STARTPTS")


def build_filtergraph(plan: RenderPlan, size: tuple[int, int], zoom_files: list[str] | None = None,
                      work: tuple[int, int] | None = None, post: str = "") -> tuple[list[str], str]:
    """ffmpeg input arguments and the `-filter_complex` text ending in [vout] (media paths as in the plan).

    Takes are read by `movie` sources inside the graph rather than `-i` inputs: a source is
    pulled only when the graph needs its frames, so a 55-shot edit holds a few shots' frames
    in memory, not every input's read-ahead (-i inputs decode eagerly into queues: ~3.5 GB
    at 2K for 55 shots). `zoom_files[k]` is the rendered file of the k-th ZoomSegment.
    The returned inputs are empty today; they stay in the signature for the song's index.
    post: a filter chain applied to the joined picture at the work size, before the final
    scale (the beat-synced effects of `render.effects`); '' leaves the graph as it was.
    """
    fps = plan.fps
    final = size
    size = work or size
    w, h = size
    inputs: list[str] = []
    chains: list[str] = []
    labels: list[str] = []
    lengths: list[int] = []
    zoom_k = 0
    for idx, s in enumerate(plan.streams):
        if isinstance(s, ZoomSegment):
            if zoom_files is None or zoom_k >= len(zoom_files):
                raise ValueError("a zoom-through segment has no rendered file")
            source = f"movie=filename={escape_graph_value(zoom_files[zoom_k])}"
            zoom_k += 1
            chain = normalise_chain(size, fps, 1.0, s.frames)
        elif s.media == BLACK:
            source = f"color=c=black:s={w}x{h}:r={fps}:d={s.frames / fps + 1 / fps:.6f}"
            chain = normalise_chain(size, fps, 1.0, s.frames)
        else:
            # Seek half a frame early and trim there, so the frame at `start` is the first one kept.
            seek = max(0.0, s.start - 0.5 / fps)
            # One decoder thread: 55 frame-threaded decoders cost ~350 MB more at 720p, and the
            # encoder, not decoding, is what a render waits for.
            source = (f"movie=filename={escape_graph_value(s.media)}:dec_threads=1:seek_point={seek:.6f},"
                      f"trim=start={seek:.6f}")
            chain = normalise_chain(size, fps, s.speed, s.frames, s.ramp)
        chains.append(f"{source},{chain}[s{idx}]")
        labels.append(f"s{idx}")
        lengths.append(s.frames)

    # Chains of xfades, then one concat of the chains.
    groups: list[str] = []
    current, current_len = labels[0], lengths[0]
    for j, join in enumerate(plan.joins):
        nxt, nxt_len = labels[j + 1], lengths[j + 1]
        if join.kind in tr.XFADE:
            out = f"x{j}"
            offset = (current_len - join.frames) / fps
            chains.append(f"[{current}][{nxt}]xfade=transition={tr.XFADE[join.kind]}:"
                          f"duration={join.frames / fps:.6f}:offset={offset:.6f}[{out}]")
            current, current_len = out, current_len + nxt_len - join.frames
        else:
            groups.append(current)
            current, current_len = nxt, nxt_len
    groups.append(current)
    last = "vout" if size == final else "vwork"
    joined = "vjoined" if post else last
    if len(groups) == 1:
        chains.append(f"[{groups[0]}]null[{joined}]")
    else:
        chains.append("".join(f"[{g}]" for g in groups) + f"concat=n={len(groups)}:v=1:a=0[{joined}]")
    if post:
        chains.append(f"[{joined}]{post}[{last}]")
    if last != "vout":
        chains.append(f"[vwork]scale={final[0]}:{final[1]}:flags=bicubic,setsar=1[vout]")
    return inputs, ";".join(chains)


def work_size(size: tuple[int, int], sources: list[tuple[int, int]]) -> tuple[int, int]:
    """The size the shots are cut and blended at: the output's shape, no larger than the largest take.

    Upscaling once after the blend (720p takes -> 2K) rather than in every shot's branch keeps
    each branch's frame pool at the takes' size (memory) and scales each output frame once (time).
    """
    w, h = size
    if not sources:
        return size
    factor = min(1.0, max(max(sw / w, sh / h) for sw, sh in sources))
    return (max(2, round(w * factor / 2) * 2), max(2, round(h * factor / 2) * 2))


def escape_graph_value(value: str) -> str:
    """Escape a filter option value (a file path) for a filtergraph: both of ffmpeg's escaping levels."""
    level1 = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + c if c in "[],;'\\" else c for c in level1)


AAC_ARGS = ["-c:a", "aac", "-b:a", "256k"]  # the audio of every H.264 file (renders and deliverables)


def output_args(codec: str, crf: int, fps: int, preset: str = "veryfast") -> list[str]:
    """Video and audio encoder arguments for `codec` ('h264' -> .mp4, 'prores' -> .mov)."""
    if codec == "h264":
        return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-r", str(fps),
                *AAC_ARGS, "-movflags", "+faststart"]
    if codec == "prores":
        return ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-vendor", "apl0",
                "-r", str(fps), "-c:a", "pcm_s24le"]
    raise BadInput(f"unknown codec {codec!r}", where="render.codec", fix="use h264 or prores")


# -- running it -----------------------------------------------------------------------------


def render_timeline(timeline: otio.schema.Timeline, root: Path, out: Path, *, size: tuple[int, int], fps: int,
                    codec: str = "h264", crf: int = 18, preset: str = "veryfast",
                    progress: Callable[[float], None] | None = None, metadata: dict[str, str] | None = None,
                    overlay: str | None = None,
                    effects: Callable[[tuple[int, int]], str] | None = None,
                    ramps: Sequence[SpeedRamp] = ()) -> None:
    """Render `timeline` (media paths relative to `root`) to `out` at `size` and `fps`, with the song.

    overlay: a filter chain drawn over the finished picture (the program overlay, see render.overlay).

    codec: 'h264' (H.264 + AAC 256k, .mp4) or 'prores' (ProRes 422 HQ + 24-bit PCM, .mov).
    crf / preset: x264 quality and speed (ignored for ProRes).
    progress: called with the fraction done (0..1); zoom-through frames count first.
    metadata: container tags written by the encode itself (the disclosure tags), so the file is
    written once; signing is the only pass after it.
    effects: given the work size, the filter chain of the beat-synced effects
    (`render.effects.filter_chain`), drawn by the same pass; None for none.
    ramps: speed ramps into downbeats (`render.effects.timeline_ramps`), drawn by each clip's retime.
    """
    root = Path(root)
    out = Path(out)
    if codec not in CODECS:
        raise BadInput(f"unknown codec {codec!r}", where="render.codec", fix="use h264 or prores")
    if codec == "prores" and out.suffix.lower() != ".mov":
        raise BadInput("ProRes 422 HQ with PCM audio goes in a .mov", where=out.name, fix="name the output *.mov")
    if size[0] % 2 or size[1] % 2:
        raise BadInput(f"output size {size[0]}x{size[1]} must be even", where="render", fix="use an even width and height")
    render_plan(plan_render(timeline, fps, ramps), root, out, size=size, codec=codec, crf=crf, preset=preset,
                progress=progress, metadata=metadata, overlay=overlay, effects=effects)


def render_plan(plan: RenderPlan, root: Path, out: Path, *, size: tuple[int, int], codec: str = "h264",
                crf: int = 18, preset: str = "veryfast", progress: Callable[[float], None] | None = None,
                metadata: dict[str, str] | None = None, overlay: str | None = None,
                effects: Callable[[tuple[int, int]], str] | None = None) -> None:
    """Render a RenderPlan (see `plan_render`); also used to bake single transitions for exports."""
    root, out = Path(root), Path(out)
    fps = plan.fps
    work = work_size(size, _check_media(plan, root))
    abs_plan = _resolved(plan, root)

    zooms = [s for s in abs_plan.streams if isinstance(s, ZoomSegment)]
    zoom_work = sum(z.frames for z in zooms) * 6  # a zoom frame costs a few encoded frames
    total_work = zoom_work + abs_plan.total_frames

    def part(offset: int, share: int) -> Callable[[float], None] | None:
        if progress is None:
            return None
        return lambda f: progress(min(1.0, (offset + f * share) / max(1, total_work)))

    # The work folder names this process: a later run removes it if this one is killed (media.sweep_stale).
    with tempfile.TemporaryDirectory(prefix=f".dreamcut-render-pid{os.getpid()}-",
                                     dir=out.parent if out.parent.exists() else None) as tmp:
        zoom_files = []
        for k, z in enumerate(zooms):
            dest = Path(tmp) / f"zoom_{k:03d}.mp4"
            render_zoom_through(z, dest, size=work, fps=fps)
            zoom_files.append(str(dest))
            if progress:
                progress(min(1.0, (k + 1) * z.frames * 6 / max(1, total_work)))
        inputs, graph = build_filtergraph(abs_plan, size, zoom_files, work=work,
                                          post=effects(work) if effects else "")
        if overlay:  # drawn over the finished picture: the graph's output label gets one more step
            head, _, tail = graph.rpartition("[vout]")
            graph = f"{head}[vprogram]{tail};[vprogram]{overlay}[vout]"
        audio: list[str] = []
        if abs_plan.song:
            audio_index = sum(1 for a in inputs if a == "-i")
            audio = ["-ss", f"{abs_plan.song_start:.6f}", "-t", f"{abs_plan.total_frames / fps:.6f}",
                     "-i", abs_plan.song]
        graph_file = Path(tmp) / "graph.txt"
        graph_file.write_text(graph, encoding="utf-8")
        args = [*inputs, *audio, "-/filter_complex", str(graph_file), "-map", "[vout]"]
        if abs_plan.song:
            args += ["-map", f"{audio_index}:a:0"]
        args += [*output_args(codec, crf, fps, preset), "-frames:v", str(abs_plan.total_frames)]
        for k, v in (metadata or {}).items():
            args += ["-metadata", f"{k}={v}"]
        if metadata:
            args += ["-movflags", "+faststart+use_metadata_tags"]  # keeps keys MP4 has no atom for
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as part_path:
            run_ffmpeg([*args, str(part_path)], duration=abs_plan.total_frames / fps,
                       progress=part(zoom_work, abs_plan.total_frames), what=f"rendering {out.name}")


def _resolved(plan: RenderPlan, root: Path) -> RenderPlan:
    def fix(s: Stream) -> Stream:
        if s.media == BLACK:
            return s
        return Stream(media=str(_abs(root, s.media)), start=s.start, frames=s.frames, speed=s.speed, clip=s.clip,
                      ramp=s.ramp)

    streams: list[Stream | ZoomSegment] = []
    for s in plan.streams:
        if isinstance(s, ZoomSegment):
            streams.append(ZoomSegment(outgoing=fix(s.outgoing), incoming=fix(s.incoming), frames=s.frames))
        else:
            streams.append(fix(s))
    return RenderPlan(fps=plan.fps, streams=streams, joins=plan.joins, total_frames=plan.total_frames,
                      song=str(_abs(root, plan.song)) if plan.song else None, song_start=plan.song_start)


def _abs(root: Path, media: str) -> Path:
    p = Path(media)
    return p if p.is_absolute() else root / p


def _check_media(plan: RenderPlan, root: Path) -> list[tuple[int, int]]:
    """Every take and the song exist, decode, and hold the frames the edit reads (BadInput naming the file)."""
    needed: dict[str, float] = {}
    owner: dict[str, str] = {}
    for s in plan.streams:
        for st in ((s.outgoing, s.incoming) if isinstance(s, ZoomSegment) else (s,)):
            if st.media == BLACK:
                continue
            end = st.start + st.source_frames / plan.fps
            needed[st.media] = max(needed.get(st.media, 0.0), end)
            owner.setdefault(st.media, st.clip)
            if st.start < -0.5 / plan.fps:
                raise BadInput(f"clip starts {-st.start:.2f} s before the take begins (no handle for its transition)",
                               where=f"clip {st.clip} ({st.media})", fix="move the in point later or shorten the transition")
    sizes: list[tuple[int, int]] = []
    for media, end in needed.items():
        where = media  # project-relative: never a home-directory path in a message
        try:
            info = probe(_abs(root, media))
        except BadInput as e:
            raise BadInput(e.message, where=where, fix=e.fix or "regenerate or replace this take") from None
        if info.video is None:
            raise BadInput("has no video stream", where=where, fix="regenerate or replace this take")
        sizes.append((info.video.width, info.video.height))
        if end > info.duration + 1.5 / plan.fps:
            raise BadInput(f"the edit reads to {end:.2f} s but the take lasts {info.duration:.2f} s",
                           where=f"clip {owner[media]} ({media})", fix="move the out point earlier")
    if plan.song:
        try:
            info = probe(_abs(root, plan.song))
        except BadInput as e:
            raise BadInput(e.message, where=plan.song, fix=e.fix or "replace the song file") from None
        if info.audio is None:
            raise BadInput("the song has no audio stream", where=plan.song, fix="point the spec at an audio file")
    return sizes


def decode_stream(stream: Stream, size: tuple[int, int], fps: int) -> list[np.ndarray]:
    """Decode a stream's frames as RGB arrays, through the same normalisation the render graph applies."""
    import subprocess

    w, h = size
    seek = max(0.0, stream.start - 0.5 / fps)
    read = stream.source_frames / fps + 3.0 / fps
    chain = normalise_chain(size, fps, stream.speed, stream.frames, stream.ramp)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{seek:.6f}", "-t", f"{read:.6f}",
           "-i", stream.media, "-vf", chain, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, preexec_fn=die_with_parent())
    if proc.returncode != 0:
        raise WorkFailed(f"could not decode {Path(stream.media).name}: "
                         f"{proc.stderr.decode(errors='replace').strip()[-200:]}")
    frame_bytes = w * h * 3
    n = len(proc.stdout) // frame_bytes
    data = np.frombuffer(proc.stdout[: n * frame_bytes], np.uint8).reshape(n, h, w, 3)
    frames = [data[i] for i in range(min(n, stream.frames))]
    while frames and len(frames) < stream.frames:
        frames.append(frames[-1])  # mirrors the graph's tpad guard
    if not frames:
        raise WorkFailed(f"no frames decoded from {Path(stream.media).name} at {stream.start:.2f} s")
    return frames


def render_zoom_through(segment: ZoomSegment, dest: Path, *, size: tuple[int, int], fps: int) -> Path:
    """Render a zoom-through's frames (the only per-frame Python in a render) into a lossless clip."""
    a = decode_stream(segment.outgoing, size, fps)
    b = decode_stream(segment.incoming, size, fps)
    # Zoom velocity on each side, measured just outside the transition where we can, else at its edges.
    probe_n = max(2, min(6, segment.frames // 2))
    rate_a = tr.zoom_rate(a[:probe_n])
    rate_b = tr.zoom_rate(b[-probe_n:])
    frames = tr.transition_frames(tr.ZOOM_THROUGH, a, b, rate_a=rate_a, rate_b=rate_b)
    with FrameWriter(dest, size[0], size[1], fps, codec_args=_LOSSLESS) as writer:
        for frame in frames:
            writer.write(frame)
    return dest


def timeline_frames(timeline: otio.schema.Timeline, fps: int) -> int:
    """The timeline's duration in frames at `fps`, as the renderer counts it (retimed clips included)."""
    return plan_render(timeline, fps).total_frames


__all__ = ["render_timeline", "plan_render", "build_filtergraph", "normalise_chain", "output_args",
           "timeline_frames", "RenderPlan", "Stream", "ZoomSegment", "Join", "decode_stream", "render_zoom_through"]
