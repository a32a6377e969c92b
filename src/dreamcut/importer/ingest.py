"""Bringing one file in as a take (steps 1-5 of the package docstring), and many files at once."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from dreamcut.catalog import Take
from dreamcut.errors import BadInput, DreamcutError
from dreamcut.media import MediaInfo, file_sha256, pid_alive, probe, write_text_atomic
from dreamcut.importer.base import FITS, MIN_SECONDS, SOURCES, VIDEO_SUFFIXES, Refused
from dreamcut.importer.facts import colour_names, provider_facts, read_sidecar
from dreamcut.importer.normalize import choose_fit, conforms, decode_check, describe_normalization, normalize



@dataclass
class ImportResult:
    name: str  # the file's name as given (never a home-folder path)
    status: str  # imported | duplicate | refused
    reason: str = ""
    take: Take | None = None

    def line(self) -> str:
        if self.status == "refused":
            return f"{self.name}: refused: {self.reason}"
        if self.status == "duplicate":
            return f"{self.name}: already imported as {self.take.id if self.take else '?'}"
        return f"{self.name}: imported as {self.take.id if self.take else '?'} ({self.reason})"




# -- public entry points ----------------------------------------------------------------------


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders become their video files (sorted, hidden and temp files skipped)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES
                          and not f.name.startswith("."))
        else:
            out.append(p)
    return out


def source_for(project, shot_id: str, source: str | None) -> str:
    """The source type of clips imported into a shot: as given, else the shot's `source:`, else generated."""
    chosen = source or project.spec.shot(shot_id).source or "generated"
    if chosen not in SOURCES:
        raise BadInput(f"unknown source {chosen!r}", where="--source", fix=f"use one of: {', '.join(SOURCES)}")
    return chosen


def import_files(project, shot_id: str, files: Iterable[Path], *, link: bool = False, prompt: str | None = None,
                 fit: str = "auto", progress: Callable[[Path, int, int], None] | None = None,
                 source: str | None = None) -> list[ImportResult]:
    """Import each file as a take of `shot_id`; one result per file (refusals do not stop the rest).

    `source`: camera | generated | unknown (None: the shot's `source:`, else generated)."""
    project.spec.shot(shot_id)  # BadInput with the known shot ids when it is not in the shot list
    source = source_for(project, shot_id, source)
    if fit not in FITS:
        raise BadInput(f"unknown fit {fit!r}", where="--fit", fix=f"use one of: {', '.join(FITS)}")
    clear_stale_temp(project)
    files = expand_inputs(files)
    results = []
    for i, f in enumerate(files):
        if progress:
            progress(f, i, len(files))
        results.append(import_one(project, shot_id, f, link=link, prompt=prompt, fit=fit, source=source))
    return results


def import_one(project, shot_id: str, src: Path, *, link: bool = False, prompt: str | None = None,
               fit: str = "auto", source: str | None = None) -> ImportResult:
    src = Path(src)
    name = src.name
    try:
        return _import(project, shot_id, src, link=link, prompt=prompt, fit=fit,
                       source=source_for(project, shot_id, source))
    except Refused as e:
        return ImportResult(name=name, status="refused", reason=str(e))
    except DreamcutError as e:
        return ImportResult(name=name, status="refused", reason=e.message)


# -- the import of one file --------------------------------------------------------------------


def _import(project, shot_id: str, src: Path, *, link: bool, prompt: str | None, fit: str,
            source: str = "generated") -> ImportResult:
    """Steps 1-5 of the module docstring for one file; raises Refused with the reason."""
    digest, size = _admit(src)
    existing = project.catalog.take_by_hash(shot_id, digest)
    if existing is not None:
        return ImportResult(name=src.name, status="duplicate", take=existing)
    info = _readable_video(src)
    take_id = f"{shot_id}-imp-{digest[:8]}"
    dest = project.take_path(shot_id, take_id)
    original_dest = dest.parent / "originals" / f"{take_id}{src.suffix.lower()}"
    sidecar = read_sidecar(src)
    provider = provider_facts(src, info)

    work = Path(tempfile.mkdtemp(prefix=f"import-{os.getpid()}-", dir=_tmp_root(project)))
    try:
        original_tmp, link_kind = _keep_original(project, src, work, digest, link)
        mezz = _make_mezzanine(project, src, info, original_tmp, work / "take.mp4", fit)
        meta = {"source_name": _safe_source_path(project, src), "original": project.rel(original_dest),
                "linked": link_kind, "bytes": size, "original_name": src.name, **_source_facts(info),
                "fit": mezz.fit, "source_type": source, "normalized": mezz.normalized,
                "damaged_frames_concealed": mezz.concealed}
        meta.update({k: provider[k] for k in ("provider", "provider_model", "provider_credentials",
                                              "provider_metadata") if provider.get(k)})
        if sidecar:
            meta["sidecar"] = {k: v for k, v in sidecar.items() if k != "prompt"} or None
        seed = sidecar.get("seed")
        take = Take(id=take_id, shot_id=shot_id, path=project.rel(dest), seconds=mezz.info.duration,
                    width=mezz.info.video.width, height=mezz.info.video.height, fps=mezz.info.video.fps,
                    backend="imported", source="imported", model=sidecar.get("model") or provider.get("provider_model"),
                    seed=int(seed) if isinstance(seed, (int, float)) or (isinstance(seed, str) and seed.isdigit())
                    else None, prompt=(prompt or sidecar.get("prompt") or provider.get("prompt") or "").strip(),
                    content_hash=digest, meta=meta)

        from dreamcut.provenance import sign_take

        sign_take(project, mezz.path, take, original=original_tmp)
        earlier = _install(project, take, original_tmp, original_dest, mezz.path, dest)
        if earlier is not None:  # another import won the race
            return ImportResult(name=src.name, status="duplicate", take=earlier)
    except BaseException:
        # nothing of a failed import stays in takes/: remove what this call renamed in
        for p in (dest, original_dest, dest.with_suffix(".json")):
            if p.is_symlink() or p.exists():
                if project.catalog.take_by_hash(shot_id, digest) is None:
                    p.unlink()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportResult(name=src.name, status="imported", reason=_what_was_done(mezz, provider, take.prompt), take=take)


def _admit(src: Path) -> tuple[str, int]:
    """Step 1, before reading the picture: (content hash, size), or Refused."""
    if not src.is_file():
        raise Refused("file does not exist")
    if src.suffix.lower() not in VIDEO_SUFFIXES:
        raise Refused(f"not a video file type dreamcut imports ({src.suffix or 'no extension'})")
    size = src.stat().st_size
    if size == 0:
        raise Refused("the file is empty (still downloading?)")
    return file_sha256(src), size


def _readable_video(src: Path) -> MediaInfo:
    """Step 1, the picture: a readable video stream with a size, at least MIN_SECONDS long."""
    try:
        info = probe(src, deep=True)
    except BadInput:
        raise Refused("not a readable video (damaged or incomplete file)") from None
    if info.video is None:
        raise Refused("it has no video stream")
    if info.video.width <= 0 or info.video.height <= 0:
        raise Refused("its video stream has no picture size")
    if info.duration < MIN_SECONDS:
        raise Refused(f"too short ({info.duration:.2f} s; at least {MIN_SECONDS} s)")
    return info


def _keep_original(project, src: Path, work: Path, digest: str, link: bool) -> tuple[Path, str | None]:
    """Step 3, the original as it came (copied, or linked): (its file in `work`, how it was linked)."""
    original_tmp = work / f"original{src.suffix.lower()}"
    link_kind = _link(project, src, original_tmp) if link else None
    if link_kind == "copy" or not link:
        _copy(src, original_tmp)
        if file_sha256(original_tmp) != digest:
            raise Refused("the file changed while it was being copied (still downloading?)")
    return original_tmp, link_kind


@dataclass
class _Mezzanine:
    path: Path
    info: MediaInfo
    fit: str
    normalized: str | None  # what was changed, or None when the original was already in the project's format
    concealed: int  # damaged frames concealed while decoding


def _make_mezzanine(project, src: Path, info: MediaInfo, original: Path, dest: Path, fit: str) -> _Mezzanine:
    """Step 3, the mezzanine: the original as is when it conforms, else normalised; refused when damaged."""
    fps = project.spec.fps
    master_w, master_h = project.spec.master_size
    display_w, display_h = int(round(info.video.width * info.video.sample_aspect)), info.video.height
    if info.video.rotation % 180 == 90:
        display_w, display_h = display_h, display_w
    chosen_fit = choose_fit(fit, display_w, display_h, master_w, master_h)
    if conforms(info, fps, master_w, master_h, src):
        concealed = decode_check(original, info)
        shutil.copyfile(original, dest)
        normalized = None
    else:
        concealed = normalize(original, dest, info, fps, master_w, master_h, chosen_fit)
        normalized = describe_normalization(info, fps, master_w, master_h, chosen_fit, display_w, display_h)
    mezz = probe(dest)
    if mezz.video is None or mezz.duration < MIN_SECONDS:
        raise Refused("damaged: no frame could be decoded")
    if mezz.duration < info.duration * 0.8 - 0.1:
        raise Refused(f"damaged: only {mezz.duration:.1f} s of {info.duration:.1f} s could be decoded")
    return _Mezzanine(dest, mezz, chosen_fit, normalized, concealed)


def _source_facts(info: MediaInfo) -> dict:
    """What the take's record keeps of its source file's streams (no paths)."""
    v = info.video
    return {"codec": v.codec, "fps": round(v.fps, 4), "variable_frame_rate": v.variable_frame_rate,
            "duration": round(info.duration, 4), "audio": info.audio is not None,
            "audio_codec": info.audio.codec if info.audio else None, "rotation": v.rotation, "width": v.width,
            "height": v.height, "pix_fmt": v.pix_fmt, "bit_depth": v.bit_depth, "color": colour_names(info),
            "container": info.format}


def _install(project, take: Take, original_tmp: Path, original_dest: Path, mezz_tmp: Path, dest: Path) -> Take | None:
    """Step 5: the files into place, then the sidecar and the catalog row (last, one transaction).
    Returns the take another import put there first (nothing renamed), else None."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    original_dest.parent.mkdir(parents=True, exist_ok=True)
    with project.catalog.transaction():
        earlier = project.catalog.take_by_hash(take.shot_id, take.content_hash)
        if earlier is not None:
            return earlier
        os.replace(original_tmp, original_dest)
        os.replace(mezz_tmp, dest)
        take.seconds = probe(dest).duration
        write_text_atomic(dest.with_suffix(".json"), json.dumps(
            {"take": take.id, "shot": take.shot_id, "source": "imported", "backend": "imported", "model": take.model,
             "seed": take.seed, "prompt": take.prompt, "content_hash": take.content_hash, "import": take.meta,
             "created_at": time.time()}, indent=2, sort_keys=True))
        try:
            project.catalog.add_take(take)
        except sqlite3.IntegrityError:
            raise Refused("a take with this id already exists") from None
    return None


def _what_was_done(mezz: _Mezzanine, provider: dict, prompt: str) -> str:
    """The import's one line: what was changed, what was concealed, who made it, its prompt."""
    said = mezz.normalized or "already in the project's format; copied as is"
    if mezz.concealed:
        said += f"; {mezz.concealed} damaged frame(s) concealed"
    if provider.get("provider_credentials"):
        said += f"; the provider's Content Credentials kept ({provider['provider']})"
    elif provider.get("provider"):
        said += f"; made with {provider['provider']}"
    if prompt:
        said += "; prompt: '" + (prompt if len(prompt) <= 50 else prompt[:47] + "...") + "'"
    return said


def _tmp_root(project) -> Path:
    d = project.state_dir / "tmp"
    d.mkdir(parents=True, exist_ok=True)
    return d


def clear_stale_temp(project) -> int:
    """Remove work folders of imports whose process is gone (killed mid-import). Returns how many."""
    d = project.state_dir / "tmp"
    if not d.is_dir():
        return 0
    removed = 0
    for sub in d.glob("import-*"):
        m = re.match(r"import-(\d+)-", sub.name)
        if not m or pid_alive(int(m.group(1))):
            continue
        shutil.rmtree(sub, ignore_errors=True)
        removed += 1
    return removed


def _link(project, src: Path, dst: Path) -> str:
    """Reference the original without copying its bytes: a hard link (no path is stored anywhere);
    across disks a symbolic link, except to a file in the home folder (a link would hold that
    path inside the project), which is copied instead. Returns 'hardlink', 'symlink' or 'copy'."""
    try:
        os.link(src, dst)
        return "hardlink"
    except OSError:
        pass
    if _safe_source_path(project, src) == src.name and not project.inside(src):
        return "copy"
    os.symlink(src.resolve(), dst)
    return "symlink"


def _copy(src: Path, dst: Path, chunk: int = 4 << 20) -> None:
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while block := fi.read(chunk):
            fo.write(block)
        fo.flush()
        os.fsync(fo.fileno())


def _safe_source_path(project, src: Path) -> str:
    """Where the file came from, without ever naming the home folder."""
    resolved = src.resolve()
    if project.inside(resolved):
        return project.rel(resolved)
    home = Path(os.path.expanduser("~")).resolve()
    try:
        resolved.relative_to(home)
        return src.name
    except ValueError:
        pass
    if str(home) in str(resolved) or (os.environ.get("USER") and f"/{os.environ['USER']}/" in str(resolved)):
        return src.name
    return str(resolved)
