"""Import takes made elsewhere: downloaded clips become takes like generated ones.

`import_files(project, shot, files)` brings each video file in as a take of `shot`
(`source='imported'`, `backend='imported'`):

1. refuse early, with one line naming the file and the reason (not a video, unreadable,
   no video stream, too short, damaged beyond repair);
2. the same file twice (by content hash) is one take;
3. keep the original under `takes/<shot>/originals/` (copied, or with `link=True` a hard
   link, else a symbolic link outside the home folder), and make a mezzanine the rest of dreamcut can rely on:
   constant frame rate at the project's fps, the project's master size with a stated fit
   (`crop`, `pad`, `blur` = blurred fill behind the whole picture), rotation applied,
   non-square pixels shown at their display shape, colours read by the source's tags (or
   its resolution's convention when untagged: HD BT.709, SD BT.601) and converted to the
   BT.709 the mezzanine is tagged with, H.264 yuv420p 8-bit, source metadata dropped;
4. keep what the provider said (its C2PA manifest, model, prompt; never a muxer's name as
   the maker), record where the clip comes from (`source`: camera | generated | unknown,
   the C2PA digital source type) and sign the mezzanine;
5. rename the files into place and write the catalog row last, in one transaction.

Every byte is written under `.dreamcut/tmp/import-<pid>-*` first, so a failed or killed
import leaves nothing in `takes/` and no catalog row; the next import clears what a
killed one left behind.

`watch(project, folder, ...)` imports files as they finish downloading (same size on
two checks in a row), choosing the shot from the file name.

It must never touch a take already in the project, and never store a path inside the
user's home folder (a bare file name is stored instead).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from dreamcut.catalog import Take
from dreamcut.errors import BadInput, DreamcutError
from dreamcut.media import MediaInfo, ffmpeg_exe, file_sha256, pid_alive, probe, write_text_atomic

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".gif"}
FITS = ("auto", "crop", "pad", "blur")
SOURCES = ("camera", "generated", "unknown")  # where a clip comes from: its C2PA digital source type
MIN_SECONDS = 0.2
# With "auto", aspect ratios closer than this crop (losing a sliver); farther ones blur-pad.
AUTO_CROP_TOLERANCE = 0.12


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


class _Refused(Exception):
    pass


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
    except _Refused as e:
        return ImportResult(name=name, status="refused", reason=str(e))
    except DreamcutError as e:
        return ImportResult(name=name, status="refused", reason=e.message)


# -- the import of one file --------------------------------------------------------------------


def _import(project, shot_id: str, src: Path, *, link: bool, prompt: str | None, fit: str,
            source: str = "generated") -> ImportResult:
    name = src.name
    if not src.is_file():
        raise _Refused("file does not exist")
    if src.suffix.lower() not in VIDEO_SUFFIXES:
        raise _Refused(f"not a video file type dreamcut imports ({src.suffix or 'no extension'})")
    size = src.stat().st_size
    if size == 0:
        raise _Refused("the file is empty (still downloading?)")
    digest = file_sha256(src)
    existing = project.catalog.take_by_hash(shot_id, digest)
    if existing is not None:
        return ImportResult(name=name, status="duplicate", take=existing)
    try:
        info = probe(src, deep=True)
    except BadInput:
        raise _Refused("not a readable video (damaged or incomplete file)") from None
    if info.video is None:
        raise _Refused("it has no video stream")
    if info.video.width <= 0 or info.video.height <= 0:
        raise _Refused("its video stream has no picture size")
    if info.duration < MIN_SECONDS:
        raise _Refused(f"too short ({info.duration:.2f} s; at least {MIN_SECONDS} s)")

    spec = project.spec
    master_w, master_h = spec.master_size
    take_id = f"{shot_id}-imp-{digest[:8]}"
    dest = project.take_path(shot_id, take_id)
    original_dest = dest.parent / "originals" / f"{take_id}{src.suffix.lower()}"
    sidecar = _read_sidecar(src)
    provider = _provider_facts(src, info)

    work = Path(tempfile.mkdtemp(prefix=f"import-{os.getpid()}-", dir=_tmp_root(project)))
    try:
        # 1. the original, kept as it came (or linked)
        original_tmp = work / f"original{src.suffix.lower()}"
        link_kind = None
        if link:
            link_kind = _link(project, src, original_tmp)
        if link_kind == "copy" or not link:
            _copy(src, original_tmp)
            if file_sha256(original_tmp) != digest:
                raise _Refused("the file changed while it was being copied (still downloading?)")
        # 2. the mezzanine
        display_w, display_h = int(round(info.video.width * info.video.sample_aspect)), info.video.height
        if info.video.rotation % 180 == 90:
            display_w, display_h = display_h, display_w
        chosen_fit = _choose_fit(fit, display_w, display_h, master_w, master_h)
        mezz_tmp = work / "take.mp4"
        conforms = _conforms(info, spec.fps, master_w, master_h, src)
        if conforms:
            concealed = _decode_check(original_tmp, info)
            shutil.copyfile(original_tmp, mezz_tmp)
            normalized = None
        else:
            concealed = _normalize(original_tmp, mezz_tmp, info, spec.fps, master_w, master_h, chosen_fit)
            normalized = _describe_normalization(info, spec.fps, master_w, master_h, chosen_fit, display_w, display_h)
        mezz = probe(mezz_tmp)
        if mezz.video is None or mezz.duration < MIN_SECONDS:
            raise _Refused("damaged: no frame could be decoded")
        if mezz.duration < info.duration * 0.8 - 0.1:
            raise _Refused(f"damaged: only {mezz.duration:.1f} s of {info.duration:.1f} s could be decoded")

        # 3. the take's facts (no home-folder paths), its prompt, and its credentials
        take_prompt = (prompt or sidecar.get("prompt") or provider.get("prompt") or "").strip()
        meta = {
            "source_name": _safe_source_path(project, src),
            "original": project.rel(original_dest),
            "linked": link_kind,
            "bytes": size,
            "original_name": name,
            "codec": info.video.codec,
            "fps": round(info.video.fps, 4),
            "variable_frame_rate": info.video.variable_frame_rate,
            "duration": round(info.duration, 4),
            "audio": info.audio is not None,
            "audio_codec": info.audio.codec if info.audio else None,
            "rotation": info.video.rotation,
            "width": info.video.width,
            "height": info.video.height,
            "pix_fmt": info.video.pix_fmt,
            "bit_depth": info.video.bit_depth,
            "color": _colour_names(info),
            "container": info.format,
            "fit": chosen_fit,
            "source_type": source,
            "normalized": normalized,
            "damaged_frames_concealed": concealed,
        }
        for k in ("provider", "provider_model", "provider_credentials", "provider_metadata"):
            if provider.get(k):
                meta[k] = provider[k]
        if sidecar:
            meta["sidecar"] = {k: v for k, v in sidecar.items() if k != "prompt"} or None
        seed = sidecar.get("seed")
        take = Take(id=take_id, shot_id=shot_id, path=project.rel(dest), seconds=mezz.duration,
                    width=mezz.video.width, height=mezz.video.height, fps=mezz.video.fps, backend="imported",
                    source="imported", model=sidecar.get("model") or provider.get("provider_model"),
                    seed=int(seed) if isinstance(seed, (int, float)) or (isinstance(seed, str) and seed.isdigit())
                    else None, prompt=take_prompt, content_hash=digest, meta=meta)

        from dreamcut.provenance import sign_take

        sign_take(project, mezz_tmp, take, original=original_tmp)

        # 4. into place, then the catalog row (last, one transaction)
        dest.parent.mkdir(parents=True, exist_ok=True)
        original_dest.parent.mkdir(parents=True, exist_ok=True)
        with project.catalog.transaction():
            if project.catalog.take_by_hash(shot_id, digest) is not None:  # another import won the race
                return ImportResult(name=name, status="duplicate", take=project.catalog.take_by_hash(shot_id, digest))
            os.replace(original_tmp, original_dest)
            os.replace(mezz_tmp, dest)
            take.seconds = probe(dest).duration
            write_text_atomic(dest.with_suffix(".json"), json.dumps(
                {"take": take_id, "shot": shot_id, "source": "imported", "backend": "imported", "model": take.model,
                 "seed": take.seed, "prompt": take.prompt, "content_hash": digest, "import": meta,
                 "created_at": time.time()}, indent=2, sort_keys=True))
            try:
                project.catalog.add_take(take)
            except sqlite3.IntegrityError:
                raise _Refused("a take with this id already exists") from None
    except BaseException:
        # nothing of a failed import stays in takes/: remove what this call renamed in
        for p in (dest, original_dest, dest.with_suffix(".json")):
            if p.is_symlink() or p.exists():
                if project.catalog.take_by_hash(shot_id, digest) is None:
                    p.unlink()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    what = normalized or "already in the project's format; copied as is"
    extra = f"; {concealed} damaged frame(s) concealed" if concealed else ""
    if provider.get("provider_credentials"):
        extra += f"; the provider's Content Credentials kept ({provider['provider']})"
    elif provider.get("provider"):
        extra += f"; made with {provider['provider']}"
    if take.prompt:
        extra += "; prompt: '" + (take.prompt if len(take.prompt) <= 50 else take.prompt[:47] + "...") + "'"
    return ImportResult(name=name, status="imported", reason=what + extra, take=take)


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


def _read_sidecar(src: Path) -> dict:
    """Prompt (and model / seed) from `<name>.json` or `<name>.txt` beside the video."""
    for cand in (src.with_suffix(".json"), src.with_name(src.name + ".json")):
        if cand.is_file():
            try:
                data = json.loads(cand.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise _Refused(f"its sidecar {cand.name} is not valid JSON") from None
            if not isinstance(data, dict):
                raise _Refused(f"its sidecar {cand.name} is not a JSON object")
            out = {}
            for key in ("prompt", "text_prompt", "promptText", "caption"):
                if isinstance(data.get(key), str) and data[key].strip():
                    out["prompt"] = data[key].strip()
                    break
            for key in ("model", "seed", "provider", "generator"):
                if key in data and isinstance(data[key], (str, int, float)):
                    out[key] = data[key]
            return out
    for cand in (src.with_suffix(".txt"), src.with_name(src.name + ".txt")):
        if cand.is_file():
            text = cand.read_text(encoding="utf-8", errors="replace").strip()
            return {"prompt": text} if text else {}
    return {}


_TAG_KEYS = ("title", "comment", "description", "synopsis", "artist", "encoder", "software", "make", "model")


def _provider_facts(src: Path, info: MediaInfo) -> dict:
    """What the provider left in the file: its C2PA manifest, or container tags."""
    out: dict = {}
    home = os.path.expanduser("~")
    tags = {k: v[:500] for k, v in (info.metadata or {}).items()
            if k.lower() in _TAG_KEYS and home not in v and not v.startswith("/")}
    if tags:
        out["provider_metadata"] = tags
    for key in ("comment", "description", "synopsis"):
        if tags.get(key) and len(tags[key]) > 12 and not tags[key].lower().startswith(("lavf", "made with")) \
                and not is_muxer(tags[key]):
            out["prompt"] = tags[key]
            break
    try:
        from dreamcut.provenance import provider_credentials

        cred = provider_credentials(src)
    except DreamcutError:
        cred = None
    if cred:
        out["provider_credentials"] = cred
        out["provider"] = cred.get("generator") or cred.get("signed_by")
    elif tags.get("encoder") and not is_muxer(tags["encoder"]):
        out["provider"] = tags["encoder"]
    return out


# Container muxers and transcoders write their own name into the file; none of them made the clip.
_MUXERS = re.compile(r"^(lav[fc]|libebml|libmatroska|mkvmerge|mkvtoolnix|handbrake|ffmpeg|gpac|mp4box|isomedia|"
                     r"l-smash|x26[45]|google|mediainfo|vlc|avidemux|shutter encoder)", re.IGNORECASE)


def is_muxer(name: str) -> bool:
    """True for an `encoder` tag naming the tool that wrapped the file, not the one that made the picture."""
    return bool(_MUXERS.match(name.strip())) or "libmatroska" in name.lower() or "lavf" in name.lower()


# ffmpeg's (ITU-T H.273) numbers for the colour fields, by name, for people reading the catalog.
_PRIMARIES = {"1": "bt709", "2": "unspecified", "4": "bt470m", "5": "bt470bg", "6": "smpte170m", "7": "smpte240m",
              "9": "bt2020", "11": "smpte431", "12": "smpte432"}
_TRANSFER = {"1": "bt709", "2": "unspecified", "4": "gamma22", "5": "gamma28", "6": "smpte170m", "7": "smpte240m",
             "8": "linear", "13": "iec61966-2-1", "14": "bt2020-10", "15": "bt2020-12", "16": "smpte2084",
             "18": "arib-std-b67"}
_MATRIX = {"0": "rgb", "1": "bt709", "2": "unspecified", "5": "bt470bg", "6": "smpte170m", "7": "smpte240m",
           "9": "bt2020nc", "10": "bt2020c"}


def _colour_names(info: MediaInfo) -> dict:
    v = info.video
    assert v is not None

    def name(table: dict, value: str | None) -> str | None:
        return table.get(str(value), str(value).lower()) if value is not None else None

    src = source_colour(info)
    return {"primaries": name(_PRIMARIES, v.color_primaries), "transfer": name(_TRANSFER, v.color_transfer),
            "matrix": name(_MATRIX, v.color_space), "range": v.color_range,
            "read_as": src.system, "assumed": src.assumed, "output": "bt709"}


@dataclass(frozen=True)
class SourceColour:
    """How the source's YUV is to be read: a colour system name of ffmpeg's colorspace filter
    (bt709, bt601-6-625, bt601-6-525, bt2020) and whether that was assumed (untagged file)."""

    system: str
    assumed: bool


def source_colour(info: MediaInfo) -> SourceColour:
    """The source's colour system: its matrix tag, else the convention of its resolution (ITU-R
    BT.709 for HD, BT.601 for SD: 625-line at 576 lines, 525-line at 480/486), as players do."""
    v = info.video
    assert v is not None
    matrix = _MATRIX.get(str(v.color_space), str(v.color_space).lower() if v.color_space else None)
    if matrix == "bt709":
        return SourceColour("bt709", False)
    if matrix == "bt470bg":
        return SourceColour("bt601-6-625", False)
    if matrix == "smpte170m":
        return SourceColour("bt601-6-525", False)
    if matrix in ("bt2020nc", "bt2020c"):
        return SourceColour("bt2020", False)
    if v.width >= 1280 or v.height >= 720:
        return SourceColour("bt709", True)
    return SourceColour("bt601-6-625" if v.height in (576, 288) else "bt601-6-525", True)


# setparams names (matrix, primaries, transfer) of each colour system a source is read as.
_SYSTEM_TAGS = {"bt709": ("bt709", "bt709", "bt709"), "bt601-6-625": ("bt470bg", "bt470bg", "smpte170m"),
                "bt601-6-525": ("smpte170m", "smpte170m", "smpte170m"), "bt2020": ("bt2020nc", "bt2020", "bt2020-10")}


def colour_filter(info: MediaInfo) -> str:
    """The ffmpeg filters that read the source's YUV as what it is and bring it to BT.709 (what the
    mezzanine is tagged). The source is tagged explicitly first: left untagged, ffmpeg would
    convert it as BT.601 to meet the BT.709 output tags, shifting an untagged HD clip's colours.
    A BT.709 source keeps its pixels; another system is converted by the colorspace filter."""
    src = source_colour(info)
    matrix, primaries, transfer = _SYSTEM_TAGS[src.system]
    rng = "pc" if (info.video and info.video.color_range == "pc") else "tv"
    tag = f"setparams=colorspace={matrix}:color_primaries={primaries}:color_trc={transfer}:range={rng},"
    if src.system == "bt709" and rng == "tv":
        return tag
    return tag + "colorspace=all=bt709:range=tv:fast=0,"


def square_pixels_filter(info: MediaInfo) -> str:
    """Scale a non-square-pixel picture (e.g. PAL 704x576 at 16:9) to square pixels first, so it is
    fitted by its display shape; "" for square pixels."""
    v = info.video
    assert v is not None
    if abs(v.sample_aspect - 1.0) < 0.01:
        return ""
    return "scale=trunc(iw*sar/2)*2:ih,setsar=1,"


# -- normalisation ---------------------------------------------------------------------------------


def _choose_fit(fit: str, w: int, h: int, mw: int, mh: int) -> str:
    if fit != "auto":
        return fit
    src_aspect, dst_aspect = w / h, mw / mh
    return "crop" if abs(src_aspect / dst_aspect - 1) <= AUTO_CROP_TOLERANCE else "blur"


def _conforms(info: MediaInfo, fps: int, mw: int, mh: int, src: Path) -> bool:
    v = info.video
    assert v is not None
    return (src.suffix.lower() in (".mp4", ".m4v") and v.codec == "h264" and v.pix_fmt == "yuv420p"
            and (v.width, v.height) == (mw, mh) and abs(v.fps - fps) < 0.01 and not v.variable_frame_rate
            and v.rotation == 0 and (info.audio is None or info.audio.codec == "aac")
            and abs(v.sample_aspect - 1.0) < 0.01)  # colours: a copy keeps pixels and tags as they are


def fit_filter(fit: str, mw: int, mh: int) -> str:
    """The ffmpeg filter chain that fits any picture into mw x mh (after rotation is applied)."""
    if fit == "crop":
        return f"scale={mw}:{mh}:force_original_aspect_ratio=increase,crop={mw}:{mh}"
    if fit == "pad":
        return f"scale={mw}:{mh}:force_original_aspect_ratio=decrease,pad={mw}:{mh}:(ow-iw)/2:(oh-ih)/2:black"
    if fit == "blur":
        blur = max(4, min(mw, mh) // 16)
        return (f"split[bgsrc][fgsrc];[bgsrc]scale={mw}:{mh}:force_original_aspect_ratio=increase,crop={mw}:{mh},"
                f"boxblur={blur}:2[bg];[fgsrc]scale={mw}:{mh}:force_original_aspect_ratio=decrease[fg];"
                f"[bg][fg]overlay=(W-w)/2:(H-h)/2")
    raise BadInput(f"unknown fit {fit!r}", fix=f"use one of: {', '.join(FITS)}")


def _normalize(src: Path, dst: Path, info: MediaInfo, fps: int, mw: int, mh: int, fit: str) -> int:
    """Transcode to the mezzanine; returns the number of decode errors ffmpeg concealed."""
    graph = f"[0:v:0]{colour_filter(info)}fps={fps},{square_pixels_filter(info)}{fit_filter(fit, mw, mh)},setsar=1," \
            f"format=yuv420p[v]"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(src),
           "-filter_complex", graph, "-map", "[v]"]
    if info.audio is not None:
        cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-fps_mode", "cfr",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
            "-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart", "-f", "mp4", str(dst)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if proc.returncode != 0 or not dst.is_file() or dst.stat().st_size == 0:
        last = errors[-1] if errors else f"exit code {proc.returncode}"
        # the ffmpeg line may name the temp path: keep only its message
        last = last.replace(str(src), src.name).replace(str(dst), dst.name)
        raise _Refused(f"could not be decoded ({last[:160]})")
    return len(errors)


def _decode_check(src: Path, info: MediaInfo) -> int:
    """Decode every frame of a file we would keep as is; refuse it when much of it is missing.

    Returns the number of decode errors ffmpeg reported (frames it concealed)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(src), "-map", "0:v:0",
           "-f", "null", "-progress", "pipe:1", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", proc.stdout, re.MULTILINE)]
    decoded = frames[-1] if frames else 0
    assert info.video is not None
    expected = max(1, int(info.duration * info.video.fps))
    if proc.returncode != 0 or decoded < expected * 0.8 - 1:
        raise _Refused(f"damaged: only {decoded / max(info.video.fps, 1):.1f} s of {info.duration:.1f} s "
                       f"could be decoded")
    return len([ln for ln in proc.stderr.splitlines() if ln.strip()])


def _describe_normalization(info: MediaInfo, fps: int, mw: int, mh: int, fit: str, dw: int, dh: int) -> str:
    v = info.video
    assert v is not None
    bits = []
    if v.variable_frame_rate:
        bits.append(f"variable frame rate -> {fps} fps")
    elif abs(v.fps - fps) >= 0.01:
        bits.append(f"{v.fps:.3f} -> {fps} fps")
    if v.rotation:
        bits.append(f"rotated {v.rotation} deg")
    if (dw, dh) != (mw, mh):
        bits.append(f"{dw}x{dh} -> {mw}x{mh} ({fit})")
    if abs(v.sample_aspect - 1.0) >= 0.01:
        bits.append(f"non-square pixels {v.width}x{v.height} shown as {int(round(v.width * v.sample_aspect))}x{v.height}")
    src = source_colour(info)
    if src.system != "bt709":
        bits.append(f"colours {src.system}{' (untagged SD, assumed)' if src.assumed else ''} -> bt709")
    if v.codec != "h264" or v.pix_fmt != "yuv420p":
        bits.append(f"{v.codec} {v.pix_fmt or ''} {v.bit_depth}-bit -> h264 yuv420p 8-bit".replace("  ", " "))
    return "normalized: " + (", ".join(bits) if bits else "re-encoded to h264 mp4")


# -- watching a downloads folder ---------------------------------------------------------------------


def pattern_regex(pattern: str) -> re.Pattern:
    """'shot-{shot}_*' -> a regex with a `shot` group; `*` and `?` are globs."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("{shot}", i):
            out += r"(?P<shot>[A-Za-z0-9][A-Za-z0-9_-]*?)"
            i += len("{shot}")
            continue
        ch = pattern[i]
        out += ".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
        i += 1
    return re.compile(out + r"\Z", re.IGNORECASE)


@dataclass
class ShotRouter:
    """Which shot a file name belongs to: a `{shot}` pattern, globs per shot, else the inbox shot."""

    pattern: str | None = None
    globs: dict[str, str] = field(default_factory=dict)  # shot -> glob
    inbox: str | None = None

    def shot_for(self, filename: str, known: set[str]) -> str | None:
        if self.pattern:
            m = pattern_regex(self.pattern).match(filename)
            if m and m.group("shot") in known:
                return m.group("shot")
        for shot, glob in self.globs.items():
            if fnmatch.fnmatch(filename.lower(), glob.lower()):
                return shot
        return self.inbox


def watch(project, folder: Path, router: ShotRouter, *, link: bool = False, fit: str = "auto",
          interval: float = 2.0, once: bool = False, timeout: float | None = None,
          report: Callable[[ImportResult], None] | None = None,
          stop: Callable[[], bool] | None = None, source: str | None = None) -> list[ImportResult]:
    """Import video files that appear in `folder` once their size is stable across two checks.

    Runs until `stop()` is true, `timeout` seconds pass, or (with `once`) after one pass
    that waited for every file present to be stable. Files already handled are not retried.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput("the folder to watch does not exist", where=folder.name, fix="create it or check the name")
    known = {s.id for s in project.spec.shots}
    for shot in [router.inbox, *router.globs]:
        if shot is not None:
            project.spec.shot(shot)
    clear_stale_temp(project)
    sizes: dict[Path, tuple[int, float]] = {}
    handled: dict[Path, tuple[int, float]] = {}
    results: list[ImportResult] = []
    started = time.monotonic()
    while True:
        pending = False
        for f in expand_inputs([folder]):
            try:
                st = f.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime)
            if handled.get(f) == sig:
                continue
            if sizes.get(f) != sig or st.st_size == 0:
                sizes[f] = sig
                pending = True
                continue
            shot = router.shot_for(f.name, known)
            if shot is None:
                res = ImportResult(name=f.name, status="refused",
                                   reason="no shot matches its name (give --pattern, --map or --inbox)")
            else:
                res = import_one(project, shot, f, link=link, fit=fit, source=source)
            handled[f] = sig
            results.append(res)
            if report:
                report(res)
        if once and not pending:
            return results
        if stop is not None and stop():
            return results
        if timeout is not None and time.monotonic() - started >= timeout:
            return results
        time.sleep(interval)
