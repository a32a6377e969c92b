"""Importing clips made elsewhere: messy real-world files made here with real ffmpeg, the real CLI,
and a real kill -9 in the middle of an import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import c2pa
import numpy as np
import pytest

from dreamcut import provenance as prov
from leak_scan import find_leaks
from dreamcut.importer import ShotRouter, import_files, pattern_regex, watch
from dreamcut.media import count_frames, ffmpeg_exe, file_sha256, probe, read_frames
from dreamcut.project import Project

from test_provenance import make_clip, make_project  # noqa: E402  (same folder)

MW, MH, FPS = 128, 72, 24


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_src(out: Path, size="160x90", rate="24", seconds=1.0, extra=(), pre=(), audio=False) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    a = ["-f", "lavfi", "-i", f"sine=f=330:d={seconds}"] if audio else []
    ff(*pre, "-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}", *a, *extra, str(out))
    return out


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): file_sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and ".dreamcut" not in p.parts}


def catalog_rows(root: Path) -> int:
    import sqlite3

    db = sqlite3.connect(root / ".dreamcut" / "catalog.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM takes").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "proj")


def check_mezzanine(project: Project, take) -> None:
    path = project.abs(take.path)
    info = probe(path, deep=True)
    v = info.video
    assert (v.width, v.height) == (MW, MH)
    assert v.codec == "h264" and v.pix_fmt == "yuv420p" and v.bit_depth == 8
    assert abs(v.fps - FPS) < 0.01 and not v.variable_frame_rate
    assert v.rotation == 0
    assert take.source == "imported" and take.backend == "imported"
    original = project.abs(take.meta["original"])
    assert original.exists() and original.parent.name == "originals"
    assert prov.verify(path).valid


def test_messy_inputs_are_normalised(project, tmp_path):
    src = tmp_path / "downloads"
    vfr = make_src(src / "vfr.mp4", rate="30", seconds=2,
                  extra=["-vf", "setpts='if(lt(N,20),N/30,(N-20)/10+20/30)/TB'", "-fps_mode", "vfr",
                         "-c:v", "libx264", "-pix_fmt", "yuv420p"])
    ntsc = make_src(src / "ntsc.mp4", rate="30000/1001", seconds=1.5, audio=True,
                   extra=["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
    film = make_src(src / "film.mov", size="1792x1024", rate="24000/1001", seconds=0.5,
                   extra=["-c:v", "prores_ks", "-profile:v", "0"])
    hevc10 = make_src(src / "hevc10.mp4", rate="25", seconds=1,
                     extra=["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error",
                            "-tag:v", "hvc1"])
    webm = make_src(src / "clip.webm", rate="24", seconds=1, extra=["-c:v", "libvpx-vp9", "-deadline", "realtime",
                                                                    "-cpu-used", "8", "-b:v", "200k"])
    assert probe(vfr, deep=True).video.variable_frame_rate
    assert probe(hevc10).video.bit_depth == 10
    results = import_files(project, "corridor", [vfr, ntsc, film, hevc10, webm])
    assert [r.status for r in results] == ["imported"] * 5, [r.line() for r in results]
    by_name = {r.name: r for r in results}
    for r in results:
        check_mezzanine(project, r.take)
    assert "variable frame rate -> 24 fps" in by_name["vfr.mp4"].reason
    assert by_name["vfr.mp4"].take.meta["variable_frame_rate"] is True
    # 29.97 in, 24 out, with the duration kept and the audio kept
    ntsc_take = by_name["ntsc.mp4"].take
    assert "29.970 -> 24 fps" in by_name["ntsc.mp4"].reason
    assert abs(ntsc_take.seconds - 1.5) < 0.1 and ntsc_take.meta["audio"] is True
    assert probe(project.abs(ntsc_take.path)).audio is not None
    assert abs(count_frames(project.abs(ntsc_take.path)) - 36) <= 1
    assert by_name["film.mov"].take.meta["codec"] == "prores"
    assert "1792x1024 -> 128x72 (crop)" in by_name["film.mov"].reason
    hevc = by_name["hevc10.mp4"].take
    assert hevc.meta["codec"] == "hevc" and hevc.meta["bit_depth"] == 10
    assert set(hevc.meta["color"]) >= {"primaries", "transfer", "matrix", "read_as", "output"}
    assert "10-bit -> h264 yuv420p 8-bit" in by_name["hevc10.mp4"].reason
    assert by_name["clip.webm"].take.meta["codec"] == "vp9"
    # the catalog has them all, with the facts a director asks about
    takes = project.catalog.takes("corridor")
    assert {t.id for t in takes} == {r.take.id for r in results}
    assert all(t.content_hash and t.meta["bytes"] > 0 for t in takes)


def test_rotation_and_portrait_into_landscape(project, tmp_path):
    src = tmp_path / "in"
    base = make_src(src / "base.mp4", size="160x90", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    rotated = src / "phone.mp4"
    ff("-display_rotation", "90", "-i", str(base), "-c", "copy", str(rotated))
    assert probe(rotated, deep=True).video.rotation in (90, 270)
    portrait = make_src(src / "portrait.mp4", size="72x128", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r_rot,) = import_files(project, "field", [rotated])
    assert r_rot.status == "imported", r_rot.line()
    assert "rotated" in r_rot.reason and "90x160 -> 128x72 (blur)" in r_rot.reason
    check_mezzanine(project, r_rot.take)
    (r_pad,) = import_files(project, "field", [portrait], fit="pad")
    assert "72x128 -> 128x72 (pad)" in r_pad.reason
    _, frame = next(read_frames(project.abs(r_pad.take.path)))
    assert frame[:, :20].max() < 30  # black bars at the sides
    assert frame[:, 54:74].std() > 10  # the picture in the middle
    portrait2 = make_src(src / "portrait2.mp4", size="72x128", rate="24", seconds=1.2,
                        extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r_blur,) = import_files(project, "field", [portrait2])  # auto -> blur for a very different aspect
    assert r_blur.take.meta["fit"] == "blur"
    _, frame = next(read_frames(project.abs(r_blur.take.path)))
    assert frame[:, :20].max() > 30  # a blurred fill, not black bars


def test_refusals_are_one_line_and_touch_nothing(project, tmp_path, cli):
    good = make_src(tmp_path / "in" / "good.mp4", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    import_files(project, "corridor", [good])
    before, rows = snapshot(project.root), catalog_rows(project.root)
    garbage = tmp_path / "in" / "garbage.mp4"
    # a real download whose header (ftyp + moov, up front with faststart) got garbled
    real = make_clip(tmp_path / "in" / "real.mp4", seconds=1).read_bytes()
    garbage.write_bytes(np.random.default_rng(7).bytes(4096) + real[4096:])
    truncated = tmp_path / "in" / "truncated.mp4"
    data = make_clip(tmp_path / "in" / "full.mp4", seconds=2).read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    text = tmp_path / "in" / "notes.pdf"
    text.write_bytes(b"%PDF-1.4")
    out = cli("import", "corridor", str(garbage), str(truncated), str(text), cwd=project.root)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [ln for ln in out.stderr.splitlines() if "refused" in ln]
    assert len(lines) == 3
    assert lines[0].startswith("garbage.mp4: refused: not a readable video")
    assert lines[1].startswith("truncated.mp4: refused: damaged")
    assert lines[2].startswith("notes.pdf: refused: not a video file type")
    assert str(tmp_path) not in out.stdout + out.stderr
    assert snapshot(project.root) == before and catalog_rows(project.root) == rows
    assert not list((project.state_dir / "tmp").glob("import-*"))
    # an unknown shot is bad input before anything happens
    bad = cli("import", "nope", str(good), cwd=project.root)
    assert bad.returncode == 2 and "no shot 'nope'" in bad.stderr


def test_broken_frame_is_concealed_or_refused(project, tmp_path):
    clip = make_src(tmp_path / "in" / "src.mp4", size="160x90", seconds=2,
                   extra=["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "0"])
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    mid = mdat + (len(data) - mdat) // 2
    data[mid: mid + 400] = np.random.default_rng(3).bytes(400)  # garble a frame in the middle of the stream
    broken = tmp_path / "in" / "broken.mp4"
    broken.write_bytes(bytes(data))
    (r,) = import_files(project, "corridor", [broken])
    if r.status == "imported":
        assert r.take.meta["damaged_frames_concealed"] > 0 and "concealed" in r.reason
        check_mezzanine(project, r.take)
        assert abs(r.take.seconds - 2.0) < 0.2
    else:
        assert r.status == "refused" and "damaged" in r.reason


def test_duplicates_are_one_take(project, tmp_path, cli):
    clip = make_src(tmp_path / "a" / "x.mp4", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    copy = tmp_path / "b" / "renamed copy.mp4"
    copy.parent.mkdir()
    copy.write_bytes(clip.read_bytes())
    first = cli("import", "corridor", str(clip), cwd=project.root, check=True)
    assert "1 imported" in first.stdout
    again = cli("import", "corridor", str(clip), str(copy), cwd=project.root, check=True)
    assert "0 imported, 2 already there" in again.stdout
    # a folder imports its videos (the duplicate inside is recognised as such)
    other = make_src(tmp_path / "a" / "y.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    folder = cli("import", "corridor", str(tmp_path / "a"), cwd=project.root, check=True)
    assert "1 imported, 1 already there" in folder.stdout and other.name in folder.stdout
    assert len(Project.open(project.root).catalog.takes("corridor")) == 2
    # the same file is a take of another shot too (the hash is unique per shot)
    (r,) = import_files(project, "field", [clip])
    assert r.status == "imported"


def test_conforming_file_kept_as_is_and_provider_credentials(project, tmp_path):
    # already 128x72 H.264 24 fps: copied, not re-encoded; a provider's C2PA manifest and sidecar prompt kept
    raw = make_clip(tmp_path / "raw.mp4", shade=50)
    chain, key = prov.make_project_certificate("VideoCo")
    signed = tmp_path / "dl" / "videoco_take.mp4"
    signed.parent.mkdir()
    manifest = {"claim_generator_info": [{"name": "VideoCo Gen", "version": "4.5"}], "title": "videoco_take.mp4",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": prov.TRAINED_ALGORITHMIC_MEDIA}]}}]}
    with c2pa.Builder(manifest) as b, open(raw, "rb") as s, open(signed, "w+b") as d:
        b.sign(c2pa.Signer.from_info(c2pa.C2paSignerInfo("es256", chain, key, None)), "video/mp4", s, d)
    (signed.parent / "videoco_take.json").write_text(json.dumps({"prompt": "a neon corridor", "model": "vc-4.5",
                                                                  "seed": 77}))
    (r,) = import_files(project, "corridor", [signed])
    assert r.status == "imported", r.line()
    assert "copied as is" in r.reason
    take = r.take
    assert take.prompt == "a neon corridor" and take.model == "vc-4.5" and take.seed == 77
    assert take.meta["provider_credentials"]["generator"] == "VideoCo Gen 4.5"
    assert take.meta["provider"] == "VideoCo Gen 4.5"
    # the original keeps its provider manifest byte for byte; the take's manifest has it as parent
    assert file_sha256(project.abs(take.meta["original"])) == file_sha256(signed)
    assert "the provider's Content Credentials kept (VideoCo Gen 4.5)" in r.reason
    report = prov.verify(project.abs(take.path))
    assert report.valid and report.take_facts["prompt"] == "a neon corridor"
    assert report.provider == "VideoCo Gen 4.5" and "imported from VideoCo Gen 4.5" in report.text()
    with c2pa.Reader(str(project.abs(take.path))) as rd:
        store = json.loads(rd.json())
    m = store["manifests"][store["active_manifest"]]
    parent = next(i for i in m["ingredients"] if i["relationship"] == "parentOf")
    assert store["manifests"][parent["active_manifest"]]["claim_generator_info"][0]["name"] == "VideoCo Gen"
    # --prompt beats the sidecar; a .txt sidecar works too
    other = make_src(tmp_path / "dl2" / "b.mp4", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (other.parent / "b.txt").write_text("a football field at dusk\n")
    (r2,) = import_files(project, "field", [other])
    assert r2.take.prompt == "a football field at dusk"
    other2 = make_src(tmp_path / "dl2" / "c.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r3,) = import_files(project, "field", [other2], prompt="given on the command line")
    assert r3.take.prompt == "given on the command line"


def test_link_keeps_a_reference_and_home_paths_are_not_stored(tmp_path, monkeypatch):
    home = tmp_path / "home" / "someone"
    monkeypatch.setenv("HOME", str(home))
    project = make_project(tmp_path / "elsewhere" / "proj")
    clip = make_src(home / "Downloads" / "dl.mp4", rate="30", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r,) = import_files(project, "corridor", [clip], link=True)
    assert r.status == "imported"
    original = project.root / r.take.meta["original"]
    assert r.take.meta["linked"] == "hardlink"  # same disk here: no bytes copied, no path stored
    assert original.stat().st_ino == clip.stat().st_ino and not original.is_symlink()
    assert r.take.meta["source_name"] == "dl.mp4"
    assert str(home) not in json.dumps(r.take.meta)
    sidecar = project.abs(r.take.path).with_suffix(".json").read_text()
    assert str(home) not in sidecar
    assert not find_leaks(project.root, [str(home)])


def test_watch_imports_finished_downloads(project, tmp_path, cli):
    inbox = tmp_path / "watched"
    inbox.mkdir()
    make_src(inbox / "shot-field_take1.mp4", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    make_src(inbox / "random name.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (inbox / ".partial.mp4").write_bytes(b"")  # hidden / in-progress names are ignored
    assert pattern_regex("shot-{shot}_*").match("shot-field_take1.mp4").group("shot") == "field"
    router = ShotRouter(pattern="shot-{shot}_*", globs={"corridor": "*hallway*"}, inbox=None)
    known = {"corridor", "field"}
    assert router.shot_for("shot-field_v2.mp4", known) == "field"
    assert router.shot_for("Hallway zoom.MP4", known) == "corridor"
    assert router.shot_for("shot-nothere_1.mp4", known) is None
    out = cli("import", "corridor", "--watch", str(inbox), "--pattern", "shot-{shot}_*", "--once",
              "--interval", "0.2", cwd=project.root)
    assert out.returncode == 0, out.stdout + out.stderr
    p = Project.open(project.root)
    assert len(p.catalog.takes("field")) == 1 and len(p.catalog.takes("corridor")) == 1
    # a file still growing is not imported until its size holds still
    growing = inbox / "shot-field_take2.mp4"
    full = make_src(tmp_path / "g.mp4", seconds=1, rate="30", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"]).read_bytes()
    growing.write_bytes(full[: len(full) // 2])
    checks = {"n": 0}

    def grow_then_stop() -> bool:
        checks["n"] += 1
        if checks["n"] == 1:
            growing.write_bytes(full)  # the download goes on between two checks, then finishes
        return checks["n"] >= 6

    seen = []
    watch(p, inbox, ShotRouter(pattern="shot-{shot}_*", inbox="corridor"), interval=0.05,
          stop=grow_then_stop, report=seen.append)
    new = [r for r in seen if r.name == "shot-field_take2.mp4"]
    assert len(new) == 1 and new[0].status == "imported", [r.line() for r in seen]
    assert new[0].take.meta["bytes"] == len(full)


def test_kill_9_mid_import_leaves_nothing(project, tmp_path, cli):
    big = make_src(tmp_path / "big.mp4", size="1280x720", rate="24", seconds=6,
                  extra=["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p"])
    assert big.stat().st_size > 5_000_000
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "import", "corridor", str(big)], cwd=project.root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp_root = project.state_dir / "tmp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        work = list(tmp_root.glob("import-*/*")) if tmp_root.is_dir() else []
        if any(f.stat().st_size > 0 for f in work if f.exists()):
            break
        time.sleep(0.005)
    else:
        proc.kill()
        pytest.fail("the import finished (or never started) before it could be killed mid-way")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not [p for p in project.takes_dir.rglob("*") if p.is_file()] if project.takes_dir.exists() else True
    assert catalog_rows(project.root) == 0
    # the next import clears the dead one's work folder and succeeds
    again = cli("import", "corridor", str(big), cwd=project.root, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not list(tmp_root.glob("import-*"))
    assert catalog_rows(project.root) == 1


@pytest.mark.slow
def test_imported_and_animatic_takes_cut_and_rendered_together(tmp_path):
    """The real animatic backend, the real planner and the real renderer, with an imported portrait clip."""
    for module in ("dreamcut.analysis.audio", "dreamcut.edit.planner", "dreamcut.render.ffmpeg",
                   "dreamcut.backends.animatic"):
        pytest.importorskip(module, reason=f"{module} is not in this build yet")
    import opentimelineio as otio

    from dreamcut import pipeline
    from dreamcut.render.ffmpeg import render_timeline

    root = tmp_path / "mv"
    make_project(root)
    ff("-f", "lavfi", "-i", "aevalsrc='0.8*sin(2*PI*880*t)*exp(-40*mod(t\\,0.5))':s=44100:d=6", str(root / "song.wav"))
    project = Project.open(root)
    summary = pipeline.generate(project, shots=["corridor"])
    assert summary.made >= 1
    for take in project.catalog.takes("corridor"):  # what the orchestrator's hook does as each take lands
        prov.sign_take(project, project.abs(take.path), take)
    clip = make_src(tmp_path / "dl" / "field.mp4", size="72x128", rate="30000/1001", seconds=4,
                    extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r,) = import_files(project, "field", [clip], prompt="a football field at dusk")
    assert r.status == "imported", r.line()
    timeline = pipeline.make_edit(project)
    clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert [c.metadata["dreamcut"]["shot"] for c in clips] == ["corridor", "field"]
    assert clips[1].metadata["dreamcut"]["take"] == r.take.id
    master, _ = pipeline.render_paths(project)
    render_timeline(timeline, project.root, master, size=project.spec.master_size, fps=project.spec.fps)
    prov.sign_render(project, master, timeline)
    report = prov.verify(master)
    assert report.valid and [t.take for t in report.takes] == [c.metadata["dreamcut"]["take"] for c in clips]
    text = report.text()
    assert "(animatic, seed" in text and "(imported, 'a football field at dusk')" in text
    assert "2 shots chosen from" in prov.credits_text(project, timeline)


@pytest.mark.slow
def test_imported_and_generated_takes_through_the_whole_pipeline(tmp_path, cli):
    """Imported takes are scored, cut to the music, rendered, upscaled and exported like generated ones."""
    from dreamcut import pipeline
    from test_provenance import PLANTED, add_generated_take, outside_nle_media_paths

    home = tmp_path / "home" / "planted-user-8c1f"
    root = home / "mv"
    project = make_project(root)
    # a click track at 120 bpm, so the edit has beats to cut on
    ff("-f", "lavfi", "-i", "aevalsrc='0.8*sin(2*PI*880*t)*exp(-40*mod(t\\,0.5))':s=44100:d=6", str(root / "song.wav"))
    env = {**PLANTED, "HOME": str(home)}
    try:
        import dreamcut.backends.animatic  # noqa: F401

        pipeline.generate(Project.open(root), shots=["corridor"])
    except ImportError:  # no animatic backend in this build: a generated take made the same way it would land
        take, path = add_generated_take(project, "corridor", 1, seed=11)
        prov.sign_take(project, path, take)
    downloads = home / "Downloads"
    portrait = make_src(downloads / "field_from_webapp.mp4", size="72x128", rate="30000/1001", seconds=4,
                        extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (downloads / "field_from_webapp.txt").write_text("out onto a football field at dusk")
    out = cli("import", "field", str(portrait), cwd=root, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    for step in ("edit", "render", "export"):
        res = cli(step, cwd=root, env=env, timeout=600)
        assert res.returncode == 0, (step, res.stdout, res.stderr)
    p = Project.open(root)
    imported = p.catalog.takes("field")[0]
    assert imported.source == "imported"
    try:
        import dreamcut.analysis.video  # noqa: F401

        assert imported.score is not None  # scored by the review analysis like the others
    except ImportError:
        pass
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(root / "edits" / "cut.otio"))
    used = {c.metadata["dreamcut"]["take"] for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)}
    assert imported.id in used
    master, final = pipeline.render_paths(p)
    assert probe(final).video.width == p.spec.final_size[0]
    report = prov.verify(final)
    assert report.valid and report.parent == master.name
    assert imported.id in {t.take for t in report.takes}
    assert "imported" in report.text() and "football field" in report.text()
    # every export gets credentials (what pipeline.export should do after export_all)
    outputs = {p_.name: p_ for p_ in (root / "exports").iterdir() if p_.is_file()}
    assert {"cut.otio", "premiere.xml", "cut.edl"} <= set(outputs)
    prov.sign_exports(p, outputs, tl)
    for name in ("cut.otio", "premiere.xml", "cut.edl"):
        r_ = prov.verify(root / "exports" / name)
        assert r_.valid and imported.id in {t.take for t in r_.takes}, name
    leaks = outside_nle_media_paths(root, find_leaks(root, list(PLANTED.values()) + [str(home),
                                                                                       "planted-user-8c1f"]))
    assert leaks == [], leaks


# -- faithful ingest: non-square pixels and colours ------------------------------------------------


def _yuv(path: Path) -> np.ndarray:
    """First frame as float Y, U, V planes (h, w, 3), chroma upsampled, untouched by any matrix."""
    import av

    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        a = frame.reformat(format="yuv444p").to_ndarray()
    a = np.asarray(a, np.float64)
    return np.moveaxis(a, 0, -1) if a.shape[0] == 3 else a


def _rgb709(yuv: np.ndarray) -> np.ndarray:
    """Limited-range BT.709 Y'CbCr -> R'G'B' levels 0..255 (ITU-R BT.709 matrix)."""
    y = (yuv[..., 0] - 16) * 255 / 219
    u = (yuv[..., 1] - 128) * 255 / 224
    v = (yuv[..., 2] - 128) * 255 / 224
    return np.stack([y + 1.5748 * v, y - 0.1873 * u - 0.4681 * v, y + 1.8556 * u], axis=-1)


def test_pal_16_9_non_square_pixels_fill_the_frame(project, tmp_path):
    pal = make_src(tmp_path / "in" / "pal.mp4", size="704x576", rate="25", seconds=1.0,
                   extra=["-vf", "setsar=64/45", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
    assert abs(probe(pal).video.sample_aspect - 64 / 45) < 1e-3
    (r,) = import_files(project, "corridor", [pal])
    assert r.status == "imported", r.line()
    assert r.take.meta["fit"] == "crop" and "non-square pixels 704x576 shown as 1001x576" in r.reason
    # the imported frame is the source shown at 16:9, scaled: no bars, no squeeze
    _, got = next(read_frames(project.abs(r.take.path)))
    _, src = next(read_frames(pal, size=(MW, MH)))  # 704x576 squeezed to 16:9 = what a player shows
    assert got.shape == (MH, MW, 3)
    assert np.abs(got[:, :16].astype(float) - src[:, :16]).mean() < 12  # the sides are picture, not fill
    assert np.abs(got.astype(float) - src).mean() < 10


def test_untagged_hd_keeps_its_colours(tmp_path):
    """An HD clip with no colour tags is BT.709 by convention: imported, its luma and saturated
    colours stay within 0.5 levels, and the output says bt709."""
    from test_provenance import make_project as make_prov_project

    proj = make_prov_project(tmp_path / "hd")
    src = tmp_path / "in" / "bars.mp4"
    src.parent.mkdir(parents=True)
    ff("-f", "lavfi", "-i", "smptehdbars=s=1280x720:r=25:d=1", "-vf", "scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=unknown:color_primaries=unknown:color_trc=unknown",
       "-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p", str(src))
    assert probe(src).video.color_space in (None, "2", "UNSPECIFIED")  # untagged
    (r,) = import_files(proj, "corridor", [src], fit="crop")
    assert r.status == "imported", r.line()
    assert r.take.meta["color"]["read_as"] == "bt709" and r.take.meta["color"]["assumed"] is True
    project_file = proj.abs(r.take.path)
    assert probe(project_file).video.color_space in ("1", "BT709", "bt709")
    a, b = _yuv(src), _yuv(project_file)
    assert abs(a[..., 0].mean() - b[..., 0].mean()) < 0.5  # mean luma
    # saturated colours: inside the flat colour bars (away from edges the scaling blurs), each
    # channel's level where it is high, source (read as BT.709) vs the imported take
    import cv2

    ra = cv2.resize(_rgb709(a).astype(np.float32), (b.shape[1], b.shape[0]), interpolation=cv2.INTER_AREA)
    rb = _rgb709(b)
    flat = cv2.erode((cv2.Laplacian(ra.mean(axis=2), cv2.CV_32F, ksize=3) == 0).astype(np.uint8),
                     np.ones((5, 5), np.uint8)).astype(bool)
    for ch in range(3):
        sat = flat & (ra[..., ch] > 150) & (ra.min(axis=2) < 60)  # saturated: one channel high, another low
        assert sat.sum() > 50
        assert abs(float(ra[..., ch][sat].mean()) - float(rb[..., ch][sat].mean())) < 0.5, ch


# -- where a clip comes from: camera footage is not AI -------------------------------------------------


def _created(path: Path) -> dict:
    from test_provenance import reader_json

    store = reader_json(path)
    m = store["manifests"][store["active_manifest"]]
    return next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"][0]


def test_camera_footage_is_digital_capture_and_its_render_is_not_ai(project, tmp_path, cli):
    from test_provenance import make_timeline, render_concat

    a = make_src(tmp_path / "cam" / "a.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    b = make_src(tmp_path / "cam" / "b.mkv", rate="25", seconds=1.2,
                 extra=["-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata",
                        "encoder=libebml v1.4.2 + libmatroska v1.6.4"])
    r = cli("--project", str(project.root), "import", "corridor", str(a), str(b), "--source", "camera")
    assert r.returncode == 0, r.stderr
    takes = project.catalog.takes("corridor")
    assert len(takes) == 2 and all(t.meta["source_type"] == "camera" for t in takes)
    for t in takes:
        created = _created(project.abs(t.path))
        assert created["action"] == "c2pa.created" and created["digitalSourceType"] == prov.DIGITAL_CAPTURE
        assert "provider" not in t.meta  # the Matroska muxer is not the clip's maker
    tl = make_timeline(project, takes)
    assert prov.disclosure_metadata(project, tl)["ai_generated"] == "false"
    assert "Camera footage" in prov.credits_text(project, tl) and "generative AI" not in prov.credits_text(project, tl)
    master = render_concat(project, [project.abs(t.path) for t in takes], project.renders_dir / "final_720p.mp4")
    prov.sign_render(project, master, tl)
    assert _created(master)["digitalSourceType"] == prov.COMPOSITE_CAPTURE
    assert probe(master).metadata.get("ai_generated") == "false"


def test_generated_is_the_default_and_the_shot_can_say_camera(project, tmp_path, cli):
    a = make_src(tmp_path / "gen" / "a.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r,) = import_files(project, "corridor", [a])
    assert r.take.meta["source_type"] == "generated"
    assert _created(project.abs(r.take.path))["digitalSourceType"] == prov.TRAINED_ALGORITHMIC_MEDIA
    spec = (project.root / "dreamcut.yaml").read_text().replace(
        "  - id: field\n", "  - id: field\n    source: camera\n")
    (project.root / "dreamcut.yaml").write_text(spec)
    proj = Project.open(project.root)
    (r2,) = import_files(proj, "field", [a])
    assert r2.take.meta["source_type"] == "camera"
    bad = cli("--project", str(project.root), "import", "field", str(a), "--source", "phone")
    assert bad.returncode == 2 and "--source" in bad.stderr and "camera, generated, unknown" in bad.stderr


def test_unknown_origin_makes_no_source_claim_and_is_disclosed(project, tmp_path):
    from test_provenance import make_timeline

    a = make_src(tmp_path / "u" / "a.mp4", rate="25", extra=["-c:v", "libx264", "-pix_fmt", "yuv420p"])
    (r,) = import_files(project, "corridor", [a], source="unknown")
    assert r.status == "imported", r.line()
    created = _created(project.abs(r.take.path))
    assert created["action"] == "c2pa.opened" and "digitalSourceType" not in created  # no creation claim
    assert prov.verify(project.abs(r.take.path)).valid
    assert prov.disclosure_metadata(project, make_timeline(project, [r.take]))["ai_generated"] == "true"
