"""The release versions of the master render (`renders/deliver/`): reframed aspects, loudness,
each signed with how it was derived from the render it was cut from (the master, or for the
9:16 and 1:1 versions the larger final render when its credentials say it was made from this master).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from dreamcut.errors import BadInput
from dreamcut.pipeline.cut import analyse_song, load_edit
from dreamcut.pipeline.finish import check_signed, render_paths
from dreamcut.project import Project


# -- deliverables ---------------------------------------------------------------------


def deliver_dir(project: Project) -> Path:
    return project.renders_dir / "deliver"


def deliver(project: Project, *, target=None, short_side: int = 1080, aspects: tuple[str, ...] = ("16:9", "9:16", "1:1"),
            teaser_aspects: tuple[str, ...] = ("16:9", "9:16"), teasers: tuple[float, ...] | None = None,
            progress: Callable[[float, str], None] | None = None, say: Callable[[str], None] | None = None):
    """Write the release versions of the master render into renders/deliver/ (`render.deliver`).

    Every file is written under a temp name, its loudness measured, signed with the master as its
    parent, verified; only when all are ready do they replace the previous ones (one rename each),
    so a failure leaves the previous deliverables as they were. Returns the `Delivered` list.
    """
    import shutil
    import tempfile

    from dreamcut import timeline as tl
    from dreamcut.media import probe, sweep_stale
    from dreamcut.provenance import disclosure_metadata, sign_render
    from dreamcut.render import deliver as dl
    from dreamcut.render.ffmpeg import plan_render

    spec = project.spec
    project.check_writable()
    target = target or dl.LoudnessTarget()
    teasers = dl.TEASER_SECONDS if teasers is None else teasers
    master, final = render_paths(project)
    if not master.is_file():
        raise BadInput("there is no master render yet", where=project.rel(master), fix="run `dreamcut render` first")
    timeline = load_edit(project)
    # The overrides are checked before any work: a shot named in the spec but not in the edit is fine.
    fps = spec.fps
    plan = plan_render(timeline, fps)
    info = probe(master)
    if info.video is None or info.audio is None:
        raise BadInput("the master render has no video or no audio", where=project.rel(master),
                       fix="run `dreamcut render` again")
    master_size = (info.video.width, info.video.height)
    master_seconds = plan.total_frames / fps
    if abs(info.duration - master_seconds) > 2.0 / fps + 0.05:
        raise BadInput(f"the master lasts {info.duration:.2f} s but the edit {master_seconds:.2f} s",
                       where=project.rel(master), fix="run `dreamcut render` to render the current edit")
    report = progress or (lambda f, what: None)
    out_dir = deliver_dir(project)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir)

    # Teaser windows: the song analysis the edit was cut to.
    windows: dict[float, object] = {}
    if teasers:
        song = analyse_song(project)
        for seconds in teasers:
            w = dl.teaser_window(song, song_start=plan.song_start, master_seconds=master_seconds, seconds=seconds)
            windows[seconds] = w
            if say and w is None:
                say(f"no {seconds:g} s teaser: the master lasts {master_seconds:.1f} s")
            elif say and w.degraded:
                say(f"{seconds:g} s teaser: {w.reason}")
    items = dl.plan_deliverables(master_size=master_size, master_seconds=master_seconds, short_side=short_side,
                                 aspects=list(aspects), teaser_aspects=list(teaser_aspects), windows=windows)
    # The 9:16 and 1:1 are cropped from the sharpest current render (a degraded choice is said).
    reframes = [a for a in dict.fromkeys(i.aspect for i in items) if a != "16:9"]
    single = final == master or not reframes
    source = dl.reframe_source((master.name, master_size),
                               None if single else (final.name, _size_of(final) or spec.final_size),
                               None if single else made_from(final, master))
    if say and source.degraded:
        say(source.note)

    # The crop path: the subject tracked on the master (small frames), per shot, with the spec's
    # overrides; its centres are fractions of the width, so they place the crop on either source.
    reframed = project.renders_dir / source.name
    xs_by_aspect: dict[str, list[int]] = {}
    if reframes:
        fixed = {s.id: s.reframe.x for s in spec.shots if s.reframe is not None}
        shots = [(c.record_start, c.record_end, fixed.get(c.shot or "")) for c in tl.clips(timeline, fps)]
        samples = [] if all(f is not None for _, _, f in shots) else dl.track_subject(
            master, progress=lambda f: report(0.1 * f, "finding the subject"), seconds=master_seconds)
        for aspect in reframes:
            cw, _ = dl.crop_box(aspect, master_size)
            path = dl.crop_path(samples, frames=plan.total_frames, fps=fps, shots=shots, crop_fraction=cw / master_size[0])
            xs_by_aspect[aspect] = dl.crop_x_pixels(path, source.size[0], dl.crop_box(aspect, source.size)[0])

    tags = disclosure_metadata(project, timeline)
    stage = Path(tempfile.mkdtemp(prefix=f".dreamcut-deliver-pid{os.getpid()}-", dir=out_dir))
    delivered = []
    try:
        audio: dict[tuple[float, float], object] = {}   # one normalised audio per window, shared by its versions
        for k, item in enumerate(items):
            share = 0.9 / len(items)
            step = lambda f, k=k, item=item: report(0.1 + share * (k + f), item.name)  # noqa: E731
            window = (item.start, item.seconds)
            if window not in audio:
                audio[window] = dl.normalise_audio(master, stage / f"audio_{len(audio)}.wav", target,
                                                   start=item.start if item.teaser else 0.0,
                                                   seconds=item.seconds if item.teaser else None, fades=item.teaser)
            staged = stage / item.name
            src, src_size = (reframed, source.size) if item.aspect != "16:9" else (master, master_size)
            dl.encode(src, staged, item, fps=fps, source_size=src_size, xs=xs_by_aspect.get(item.aspect),
                      audio=audio[window].wav, work_dir=stage, crf=spec.render.crf,
                      preset=spec.render.preset, metadata=tags, progress=step)
            loud = dl.measure_ebur128(staged)
            if say and loud.true_peak > target.true_peak + 0.1:
                say(f"{item.name}: true peak {loud.true_peak:+.1f} dBTP is over the {target.true_peak:g} dBTP "
                    "ceiling after the AAC encode (the limiter held the WAV under it)")
            sign_render(project, staged, timeline, parent=src, disclose=False, title=item.name,
                        parent_title=src.name,
                        derived=_derivation(item, src_size, target, audio[window]))
            check_signed(project, staged, out_dir / item.name)
            got = probe(staged)
            delivered.append(dl.Delivered(name=item.name, path=project.rel(out_dir / item.name), aspect=item.aspect,
                                          width=got.video.width, height=got.video.height, seconds=got.duration,
                                          bytes=staged.stat().st_size, loudness=loud, teaser=item.teaser,
                                          note="; ".join(x for x in (item.note, _audio_note(audio[window])) if x),
                                          source=project.rel(src)))
        for item in items:
            os.replace(stage / item.name, out_dir / item.name)
        # A deliverable of a previous run that this run did not make (a shorter master) would be stale.
        made = {i.name for i in items}
        for old in out_dir.glob("*.mp4"):
            if old.name not in made:
                old.unlink()
                if say:
                    say(f"removed {project.rel(old)}: it was made from a previous master")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report(1.0, "done")
    return delivered


def made_from(final: Path, master: Path) -> str | None:
    """None when `final` was made from `master` as it is now, else why not (one phrase).

    The render signs the final with the master as its parent ingredient; that ingredient names
    the master's manifest (a label unique to each signing). The final is current when both
    files' credentials validate and the master carries that very manifest. Each file's manifest
    store is read once (validated as it is read); the master's not at all when the final fails.
    """
    from dreamcut.provenance.manifest import active_manifest, credentials_valid, read_manifest_store

    if not final.is_file():
        return f"{final.name} is missing"
    store = read_manifest_store(final)
    if not credentials_valid(store):
        return f"{final.name}'s Content Credentials do not validate"
    parents = [i.get("active_manifest") for i in active_manifest(store).get("ingredients", []) or []
               if i.get("relationship") == "parentOf"]
    master_store = read_manifest_store(master)
    if not credentials_valid(master_store):
        return f"{master.name}'s Content Credentials do not validate"
    if master_store["active_manifest"] not in parents:
        return f"{final.name} was not upscaled from the current {master.name} (it is stale)"
    return None


def _size_of(path: Path) -> tuple[int, int] | None:
    from dreamcut.media import probe

    if not path.is_file():
        return None
    info = probe(path)
    return (info.video.width, info.video.height) if info.video else None


def _audio_note(audio) -> str:
    return f"audio {audio.gain_db:+.1f} dB" + (", peaks limited" if audio.limited else "")


def _derivation(item, parent_size: tuple[int, int], target, audio) -> list[tuple[str, str]]:
    """What was done to its parent render (of `parent_size`) to make a deliverable, as C2PA actions."""
    steps = []
    if item.teaser:
        steps.append(("c2pa.trimmed", f"{item.seconds:g} s teaser from {item.start:.2f} s ({item.note})"))
    if item.aspect != "16:9":
        steps.append(("c2pa.cropped", f"reframed to {item.aspect} around the subject"))
    if tuple(item.size) != tuple(parent_size):
        steps.append(("c2pa.resized", f"{list(parent_size)} -> {list(item.size)}"))
    steps.append(("c2pa.edited", f"audio loudness-normalised to {target.integrated:g} LUFS, true peak "
                                 f"{target.true_peak:g} dBTP (EBU R128): {audio.gain_db:+.1f} dB"
                                 + (", peaks limited" if audio.limited else "")))
    return steps
