"""Content Credentials: signed takes and renders read back with c2pa-python, tampering found,
ingredients = the timeline's takes, 0600 keys, credits, and no planted secret in any file written."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import c2pa
import numpy as np
import opentimelineio as otio
import pytest

import conftest
from dreamcut import __version__
from dreamcut.catalog import Take
from dreamcut.media import FrameWriter, ffmpeg_exe, file_sha256, probe
from dreamcut.project import Project
from dreamcut import provenance as prov
from leak_scan import find_leaks

W, H, FPS = 128, 72, 24

SHOTS = [{"id": "corridor", "prompt": "a zoom through a 1980s high-school corridor"},
         {"id": "field", "prompt": "out onto a football field at dusk"}]


def make_clip(path: Path, seconds: float = 1.0, shade: int = 0, size=(W, H)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with FrameWriter(path, w, h, FPS) as wr:
        for i in range(int(seconds * FPS)):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[..., 0] = (shade + i * 7) % 256
            frame[:, : (i * 5) % w, 1] = 200
            wr.write(frame)
    return path


def make_project(root: Path, include_prompt: bool = True) -> Project:
    """Two shots and a 4 s click track at 120 bpm (beats for an edit, if a test goes that far)."""
    conftest.make_project(root, SHOTS, song_seconds=4.0, song_rate=22050, song_channels=1, version=1,
                          title="Provenance Test", fps=24, render={"master": "128x72", "resolution": "256x144"},
                          include_prompt_in_credentials=include_prompt)
    return Project.open(root)


def add_generated_take(project: Project, shot: str, n: int, seed: int, shade: int = 0, backend: str = "diffusers",
                       model: str = "ltx-video", seconds: float = 1.0) -> tuple[Take, Path]:
    take_id = f"{shot}-t{n:02d}-abc{n}"
    path = make_clip(project.take_path(shot, take_id), shade=shade, seconds=seconds)
    info = probe(path)
    take = Take(id=take_id, shot_id=shot, path=project.rel(path), seconds=info.duration, width=W, height=H,
                fps=FPS, backend=backend, model=model, seed=seed, variant=n - 1,
                prompt=project.spec.shot(shot).prompt_text)
    project.catalog.add_take(take)
    return take, path


def make_timeline(project: Project, takes: list[Take]) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name=project.spec.title)
    tl.metadata["dreamcut"] = {"version": 1, "song": "song.wav", "fps": FPS, "size": [W, H], "tempo": 120.0,
                               "title": project.spec.title}
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    t = 0.0
    for i, take in enumerate(takes):
        ref = otio.schema.ExternalReference(
            target_url=take.path,
            available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, FPS),
                                                    otio.opentime.RationalTime(FPS, FPS)))
        clip = otio.schema.Clip(name=take.id, media_reference=ref,
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(2, FPS),
                                                                     otio.opentime.RationalTime(20, FPS)))
        clip.metadata["dreamcut"] = {"shot": take.shot_id, "take": take.id, "speed": 1.0, "reason": "test",
                                     "score": None, "record_start": t, "record_end": t + 20 / FPS}
        t += 20 / FPS
        v1.append(clip)
    tl.tracks.append(v1)
    a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    a1.append(otio.schema.Clip(name="song", media_reference=otio.schema.ExternalReference(target_url="song.wav"),
                               source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, FPS),
                                                                    otio.opentime.RationalTime(2 * FPS, FPS))))
    tl.tracks.append(a1)
    project.edits_dir.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(project.edits_dir / "cut.otio"))
    return tl


def render_concat(project: Project, takes_paths: list[Path], out: Path, size=(W, H)) -> Path:
    """A stand-in render made by real ffmpeg (concat + scale), to sign like the renderer's output."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg_exe(), "-loglevel", "error", "-y"]
    for p in takes_paths:
        args += ["-i", str(p)]
    n = len(takes_paths)
    graph = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0,scale={size[0]}:{size[1]}[v]"
    args += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(args, check=True)
    return out


def reader_json(path: Path) -> dict:
    with c2pa.Reader(str(path)) as r:
        return json.loads(r.json())


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path / "proj")


def test_signed_take_reads_back_with_c2pa(project):
    take, path = add_generated_take(project, "corridor", 1, seed=123)
    frames_before = probe(path).video.frames
    prov.sign_take(project, path, take)
    store = reader_json(path)
    m = store["manifests"][store["active_manifest"]]
    assert m["claim_generator_info"][0]["name"] == "dreamcut"
    assert m["claim_generator_info"][0]["version"] == __version__
    actions = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
    created = actions[0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == prov.TRAINED_ALGORITHMIC_MEDIA
    assert created["parameters"]["seed"] == 123
    assert created["parameters"]["prompt"] == "a zoom through a 1980s high-school corridor"
    assert created["softwareAgent"] == {"name": "diffusers", "version": "ltx-video"}
    facts = next(a for a in m["assertions"] if a["label"] == prov.TAKE_ASSERTION)["data"]
    assert facts["shot"] == "corridor" and facts["take"] == take.id
    # only the trust list complains: the signature and the content hash are valid
    codes = {s["code"] for s in store.get("validation_status", [])}
    assert codes <= {"signingCredential.untrusted"}
    assert probe(path).video.frames == frames_before  # still the same playable video
    # no temp file left beside it, and signing again changes nothing
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    digest = file_sha256(path)
    prov.sign_take(project, path, take)
    assert file_sha256(path) == digest
    report = prov.verify(path)
    assert report.valid and not report.tampered and report.signer == "project"
    assert "signed by this project's own certificate" in report.text()
    assert "seed 123" in report.text()


def test_animatic_previz_is_not_labelled_ai(project):
    take, path = add_generated_take(project, "corridor", 1, seed=4, backend="animatic", model=None)
    prov.sign_take(project, path, take)
    store = reader_json(path)
    m = store["manifests"][store["active_manifest"]]
    created = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"][0]
    assert created["digitalSourceType"] == prov.ALGORITHMIC_MEDIA
    tl = make_timeline(project, [take])
    assert "no AI-generated footage" in prov.credits_text(project, tl)
    assert prov.disclosure_metadata(project, tl)["ai_generated"] == "false"
    master = render_concat(project, [path], project.renders_dir / "final_720p.mp4")
    prov.sign_render(project, master, tl)
    m = reader_json(master)["manifests"][reader_json(master)["active_manifest"]]
    created = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"][0]
    assert created["digitalSourceType"] == prov.COMPOSITE_SYNTHETIC


def test_prompt_left_out_when_switched_off(tmp_path):
    project = make_project(tmp_path / "p", include_prompt=False)
    take, path = add_generated_take(project, "field", 1, seed=7)
    prov.sign_take(project, path, take)
    raw = path.read_bytes()
    assert b"football field" not in raw
    assert prov.verify(path).take_facts["seed"] == 7


def test_keys_are_private_and_never_in_outputs(project):
    take, path = add_generated_take(project, "corridor", 1, seed=1)
    prov.sign_take(project, path, take)
    keys = prov.keys_dir(project)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for f in keys.iterdir():
        if f.name != ".lock":
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    key_pem = (keys / "signer.key").read_text()
    body = "".join(key_pem.strip().splitlines()[1:-1])
    assert not find_leaks(project.root, [body[:40], body[-40:]])
    # the chain is a CA-issued end-entity cert with the usages c2pa requires
    from cryptography import x509

    ee, ca = x509.load_pem_x509_certificates((keys / "signer-chain.pem").read_bytes())
    assert ee.issuer == ca.subject and ee.issuer != ee.subject
    assert ee.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ee.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


def test_concurrent_signing_makes_one_key(project):
    """The orchestrator lands takes from several threads: one key is made, every take verifies."""
    from concurrent.futures import ThreadPoolExecutor

    made = [add_generated_take(project, "corridor", n, seed=n, shade=n * 20) for n in range(1, 5)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda tp: prov.sign_take(project, tp[1], tp[0]), made))
    serials = {prov.verify(path).signer for _, path in made}
    assert serials == {"project"}
    assert sorted(p.name for p in prov.keys_dir(project).iterdir()) == [".lock", "signer-chain.pem", "signer.key"]


def test_provider_manifest_kept_as_parent(project, tmp_path):
    # A "provider" signs the file first with its own certificate.
    chain, key = prov.make_project_certificate("Some Provider")
    raw = make_clip(tmp_path / "provider.mp4", shade=90)
    manifest = {"claim_generator_info": [{"name": "ProviderVideo", "version": "3.0"}], "title": "provider.mp4",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": prov.TRAINED_ALGORITHMIC_MEDIA}]}}]}
    signed = project.take_path("field", "field-t01-prov")
    signed.parent.mkdir(parents=True, exist_ok=True)
    with c2pa.Builder(manifest) as b, open(raw, "rb") as src, open(signed, "w+b") as dst:
        b.sign(c2pa.Signer.from_info(c2pa.C2paSignerInfo("es256", chain, key, None)), "video/mp4", src, dst)
    assert prov.provider_credentials(signed)["generator"] == "ProviderVideo 3.0"
    take = Take(id="field-t01-prov", shot_id="field", path=project.rel(signed), seconds=1, width=W, height=H,
                fps=FPS, backend="runway", model="gen4_turbo", seed=5, prompt="p")
    prov.sign_take(project, signed, take)
    store = reader_json(signed)
    m = store["manifests"][store["active_manifest"]]
    parent = [i for i in m["ingredients"] if i["relationship"] == "parentOf"]
    assert len(parent) == 1
    pm = store["manifests"][parent[0]["active_manifest"]]
    assert pm["claim_generator_info"][0]["name"] == "ProviderVideo"
    assert prov.verify(signed).valid


def _signed_render(project):
    made = []
    for shot, n, seed, shade in [("corridor", 1, 123, 0), ("corridor", 2, 124, 40), ("field", 1, 9, 80)]:
        take, path = add_generated_take(project, shot, n, seed, shade)
        prov.sign_take(project, path, take)
        made.append((take, path))
    used = [made[0], made[2]]  # take 2 of corridor was not chosen
    tl = make_timeline(project, [t for t, _ in used])
    master = render_concat(project, [p for _, p in used], project.renders_dir / "final_720p.mp4")
    prov.sign_render(project, master, tl)
    return made, used, tl, master


def test_render_ingredients_match_timeline_and_upscale_chain(project):
    made, used, tl, master = _signed_render(project)
    store = reader_json(master)
    m = store["manifests"][store["active_manifest"]]
    components = [i for i in m["ingredients"] if i["relationship"] == "componentOf"]
    take_titles = sorted(i["title"] for i in components if i["title"] != "song.wav")
    assert take_titles == sorted(f"{t.shot_id} / {t.id}" for t, _ in used)
    # each take ingredient carries the take's own manifest: prompt -> take -> render can be followed
    for ing in components:
        if ing["title"] == "song.wav":
            continue
        child = store["manifests"][ing["active_manifest"]]
        facts = next(a for a in child["assertions"] if a["label"] == prov.TAKE_ASSERTION)["data"]
        assert facts["take"] in ing["title"] and "prompt" in facts
    actions = [a["action"] for a in next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]]
    assert actions[0] == "c2pa.created" and "c2pa.placed" in actions and "c2pa.trimmed" in actions
    created = next(a for a in m["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"][0]
    assert created["digitalSourceType"] == prov.COMPOSITE_WITH_TRAINED_MEDIA
    assert actions[-1] == "c2pa.transcoded"
    report = prov.verify(master)
    assert report.valid and [t.take for t in report.takes] == [t.id for t, _ in used]
    tags = probe(master).metadata
    assert "AI-generated" in tags.get("comment", "") and tags.get("title") == project.spec.title

    up = render_concat(project, [master], project.renders_dir / "final_2k.mp4", size=(256, 144))
    prov.sign_render(project, up, tl, parent=master)
    r2 = prov.verify(up)
    assert r2.valid and r2.parent == "final_720p.mp4"
    assert [t.take for t in r2.takes] == [t.id for t, _ in used]
    text = r2.text()
    assert text.startswith(f"final_2k.mp4: made by dreamcut {__version__} from 2 takes: shot corridor take")
    assert "seed 123" in text and "upscaled from final_720p.mp4" in text and "no tampering detected" in text
    up_actions = [a["action"] for a in next(a for a in reader_json(up)["manifests"][reader_json(up)["active_manifest"]]["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]]
    assert "c2pa.resized" in up_actions


def test_tampering_is_detected_and_cli_exit_codes(project, cli):
    made, used, tl, master = _signed_render(project)
    ok = cli("verify", str(master), cwd=project.root)
    assert ok.returncode == 0, ok.stderr
    assert "no tampering detected" in ok.stdout and "from 2 takes" in ok.stdout
    data = bytearray(master.read_bytes())
    i = data.find(b"mdat")
    data[i + 64] ^= 0xFF
    data[i + 65] ^= 0x5A
    bad = master.with_name("tampered.mp4")
    bad.write_bytes(bytes(data))
    report = prov.verify(bad)
    assert report.tampered and not report.valid
    assert any("mismatch" in c for c in report.problems)
    out = cli("verify", str(bad), cwd=project.root)
    assert out.returncode == 1 and "INVALID" in out.stdout
    plain = make_clip(project.root / "plain.mp4")
    assert cli("verify", str(plain), cwd=project.root).returncode == 2


def test_sidecars_for_exports_and_credits(project, cli):
    made, used, tl, master = _signed_render(project)
    export = project.exports_dir / "cut.otio"
    export.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(export))
    side = prov.write_sidecar(project, export, timeline=tl)
    assert side.name == "cut.otio.c2pa.json"
    r = prov.verify(export)
    assert r.valid and r.signer == "project" and [t.take for t in r.takes] == [t.id for t, _ in used]
    export.write_text(export.read_text().replace("corridor", "hallway"))
    r = prov.verify(export)
    assert r.tampered and "assertion.dataHash.mismatch" in r.problems
    # a .mov kept untouched gets a binary .c2pa manifest store beside it
    mov = project.exports_dir / "clip.mov"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(master), "-c", "copy", str(mov)], check=True)
    before = file_sha256(mov)
    side = prov.write_sidecar(project, mov, timeline=tl)
    assert side.name == "clip.mov.c2pa" and file_sha256(mov) == before
    assert prov.verify(mov).valid
    # an .otioz bundle (a zip) gets a binary sidecar with the takes as ingredients, via sign_exports
    import zipfile

    bundle = project.exports_dir / "cut.otioz"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("content.otio", otio.adapters.write_to_string(tl))
    assert prov.sign_exports(project, {"otioz": bundle}, tl) == [project.exports_dir / "cut.otioz.c2pa"]
    r = prov.verify(bundle)
    assert r.valid and [t.take for t in r.takes] == [t.id for t, _ in used] and "seed 123" in r.text()
    # credits: models and the generation count; the end card and disclosure tags
    text = prov.credits_text(project, tl)
    assert "2 shots chosen from 3 takes (3 generated)" in text
    assert "Models: diffusers:ltx-video." in text and "generative AI" in text
    out = cli("credits", cwd=project.root, check=True)
    assert "2 shots chosen from 3 takes" in out.stdout
    card = prov.end_card_image(project, tl, (320, 180))
    assert card.shape == (180, 320, 3) and card.dtype == np.uint8 and card.max() > 200 and card.mean() < 60
    clip = prov.end_card_clip(project, tl, project.renders_dir / "end_card.mp4", (128, 72), FPS, seconds=1)
    assert probe(clip).video.frames == FPS
    tags = prov.disclosure_metadata(project, tl)
    assert "AI-generated" in tags["comment"]
    tagged = project.renders_dir / "tagged.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(master), "-c", "copy",
                    *sum((["-metadata", f"{k}={v}"] for k, v in tags.items()), []), str(tagged)], check=True)
    assert "AI-generated" in probe(tagged).metadata.get("comment", "")


def test_user_certificate_from_env(project, tmp_path, monkeypatch):
    chain, key = prov.make_project_certificate("My Studio")
    (tmp_path / "c.pem").write_bytes(chain)
    (tmp_path / "k.pem").write_bytes(key)
    monkeypatch.setenv(prov.CERT_ENV, str(tmp_path / "c.pem"))
    monkeypatch.setenv(prov.KEY_ENV, str(tmp_path / "k.pem"))
    take, path = add_generated_take(project, "corridor", 1, seed=3)
    prov.sign_take(project, path, take)
    assert not prov.keys_dir(project).exists()  # no project key made when the user brings one
    report = prov.verify(path)
    assert report.valid and report.signer == "user"
    assert reader_json(path)["manifests"][reader_json(path)["active_manifest"]]["signature_info"]["common_name"] \
        .startswith("My Studio")


#: exports that must name media by absolute path (Premiere opens relative pathurls offline; Resolve
#: links EDL events by their SOURCE FILE): the project's own folder may appear there, nothing else
NLE_LINKED = ("exports/premiere.xml", "exports/cut.edl")


def outside_nle_media_paths(root, leaks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`leaks` less a needle found in an NLE-linked export only as part of the project folder's path."""
    from urllib.parse import quote

    kept = []
    for rel, needle in leaks:
        if rel in NLE_LINKED:
            text = (root / rel).read_text(encoding="utf-8")
            rest = text.replace(quote(str(root.resolve())), "").replace(str(root.resolve()), "")
            if needle not in rest:
                continue
        kept.append((rel, needle))
    return kept


PLANTED = {
    "RUNWAYML_API_SECRET": "key_planted_runway_0123456789abcdef",
    "OPENAI_API_KEY": "sk-planted-openai-0123456789abcdef",
    "LUMAAI_API_KEY": "luma-planted-0123456789",
    "FAL_KEY": "fal-planted-0123456789",
    "REPLICATE_API_TOKEN": "r8_planted0123456789",
    "GEMINI_API_KEY": "AIza-planted-0123456789",
    "DREAMCUT_API_KEY": "dc-planted-0123456789",
}


@pytest.mark.slow
def test_secret_scan_of_every_file_written(tmp_path, cli):
    """Planted API keys and a fake home folder: nothing the CLI writes in the project may contain them."""
    home = tmp_path / "home" / "planted-user-8c1f"
    home.mkdir(parents=True)
    root = home / "videos" / "proj"
    project = make_project(root)
    env = {**PLANTED, "HOME": str(home), "USER": "planted-user-8c1f"}
    # the director's downloads live in the home folder: import one (if the importer is present), then sign
    downloads = home / "Downloads"
    clip = make_clip(downloads / "gen-3-alpha_corridor.mp4", shade=30, seconds=3)
    (downloads / "gen-3-alpha_corridor.txt").write_text("a zoom through a corridor")
    imported = cli("import", "corridor", str(clip), cwd=root, env=env)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    for shot, n in [("corridor", 1), ("field", 1)]:
        add_generated_take(project, shot, n, seed=n, seconds=3)  # enough material for the 4 s song
    cli("sign", cwd=root, env=env, check=True)
    takes = Project.open(root).catalog.takes()
    tl = make_timeline(project, takes)
    master = render_concat(project, [root / t.path for t in takes], project.renders_dir / "final_720p.mp4")
    prov.sign_render(project, master, tl)
    export = project.exports_dir / "cut.otio"
    export.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(export))
    cli("sign", str(export), cwd=root, env=env, check=True)
    out = cli("verify", str(master), cwd=root, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    cli("credits", cwd=root, env=env, check=True)
    # the pipeline's own steps: their outputs are scanned too
    for step in ("edit", "render", "export"):
        res = cli(step, cwd=root, env=env, timeout=600)
        assert res.returncode == 0, (step, res.stdout, res.stderr)
    needles = list(PLANTED.values()) + [str(home), "planted-user-8c1f", str(downloads)]
    leaks = outside_nle_media_paths(root, find_leaks(root, needles))
    assert leaks == [], leaks
    written = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in written) and any(p.name.endswith(".c2pa.json") for p in written)
    assert not [o for o in (imported.stdout + imported.stderr, out.stdout) if str(home) in o]
