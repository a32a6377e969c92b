"""Content Credentials (C2PA) on every take and every render, plus the disclosure and credits.

What it does:
- `sign_take` embeds a signed manifest in a take: a `c2pa.created` action with the IPTC
  digital source type `trainedAlgorithmicMedia`, the generator (backend, model, dreamcut
  version), the seed and (unless the spec switches it off) the prompt. A take that already
  carries a provider's manifest keeps it as its `parentOf` ingredient. Clips imported as
  camera footage say `digitalCapture` (`take_source_type`), and a render made only of them is
  `compositeCapture`, not AI-generated.
- `sign_render` embeds a manifest in a render that lists every take of the timeline as a
  `componentOf` ingredient (their manifests travel along, so prompt -> take -> final frame
  can be followed) with the edit actions; an upscale names its master as `parentOf`.
- `write_sidecar` signs formats that cannot embed a manifest (.otio / .xml / .edl ...).
- `verify` reads and validates a file and explains the chain in plain words.
- `disclosure_metadata`, `credits_text`, `end_card_image` give the renderer what it needs
  to say "this is AI-generated" in the file's metadata and on an end card.

Signing uses a per-project key and certificate made on first use (ES256: a small CA that
issues one end-entity certificate, the shape c2pa-rs accepts), kept with 0600 permissions
under `.dreamcut/keys/`, or a user's own certificate and key (`DREAMCUT_C2PA_CERT`,
`DREAMCUT_C2PA_KEY`).

It must never put a private key, an API key, a token or a home-directory path into a
manifest, a message or a log, and never rewrite a file in place (temp file, then rename).
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dreamcut import __version__
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import atomic_path, file_sha256, write_text_atomic

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
# The animatic backend is procedural previz, not a trained model: it is never labelled as AI output.
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
COMPOSITE_SYNTHETIC = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"
PROCEDURAL_BACKENDS = frozenset({"animatic"})
# Real footage from a camera (`dreamcut import --source camera`): never labelled as AI output.
DIGITAL_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
COMPOSITE_CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeCapture"


def take_source_type(take) -> str | None:
    """The IPTC digital source type of a take: camera footage is digitalCapture, procedural previz
    algorithmicMedia, a clip of unknown origin None (no claim), everything else trainedAlgorithmicMedia."""
    declared = (take.meta or {}).get("source_type") if take.source == "imported" else None
    if declared == "camera":
        return DIGITAL_CAPTURE
    if declared == "unknown":
        return None
    if take.backend in PROCEDURAL_BACKENDS:
        return ALGORITHMIC_MEDIA
    return TRAINED_ALGORITHMIC_MEDIA


def is_ai_take(take) -> bool:
    return take_source_type(take) in (TRAINED_ALGORITHMIC_MEDIA, None)  # unknown origin: disclose, to be safe
TAKE_ASSERTION = "org.dreamcut.take"
RENDER_ASSERTION = "org.dreamcut.render"
SIDECAR_JSON_SUFFIX = ".c2pa.json"
SIDECAR_FORMAT = "dreamcut-sidecar/1"
CERT_ENV, KEY_ENV = "DREAMCUT_C2PA_CERT", "DREAMCUT_C2PA_KEY"

# Formats c2pa-rs can embed a manifest in, by extension (the rest get a sidecar).
_MIME = {".mp4": "video/mp4", ".m4v": "video/x-m4v", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
         ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".m4a": "audio/mp4",
         ".zip": "application/zip", ".otioz": "application/zip"}

# Validation codes that say "we could not vouch for who signed" rather than "the file is wrong":
# a project's own certificate is not on any public trust list, and offline there is no OCSP.
_TRUST_ONLY_CODES = {"signingCredential.untrusted", "signingCredential.ocsp.skipped",
                     "signingCredential.ocsp.inaccessible", "timeStamp.untrusted", "timeStamp.missing"}


def mime_for(path: Path) -> str | None:
    return _MIME.get(Path(path).suffix.lower())


def can_embed(path: Path) -> bool:
    return mime_for(path) is not None and Path(path).suffix.lower() not in (".zip", ".otioz")


# -- signing identity ------------------------------------------------------------------


@dataclass(frozen=True)
class SigningIdentity:
    """The certificate chain (PEM, public) and the private key (PEM, never written anywhere else)."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    alg: str  # es256 | es384 | es512 | ps256 | ed25519
    origin: str  # "project" | "user"

    @property
    def serial(self) -> str:
        from cryptography import x509

        return str(x509.load_pem_x509_certificates(self.chain_pem)[0].serial_number)


def keys_dir(project) -> Path:
    return project.state_dir / "keys"


def signing_identity(project) -> SigningIdentity:
    """The user's certificate (env) if given, else the project's own, made on first use."""
    cert_env, key_env = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
    if cert_env or key_env:
        if not (cert_env and key_env):
            raise BadInput(f"{CERT_ENV} and {KEY_ENV} must be set together", where="environment",
                           fix="set both to the PEM files of your signing certificate chain and its private key")
        chain, key = _read_secret_file(Path(cert_env), CERT_ENV), _read_secret_file(Path(key_env), KEY_ENV)
        return SigningIdentity(chain_pem=chain, key_pem=key, alg=_alg_for_key(key, CERT_ENV), origin="user")
    d = keys_dir(project)
    cert_path, key_path = d / "signer-chain.pem", d / "signer.key"
    if not (cert_path.is_file() and key_path.is_file()):
        with _keys_lock(d):
            if not (cert_path.is_file() and key_path.is_file()):
                chain, key = make_project_certificate(project.spec.title)
                _write_private(key_path, key)
                _write_private(cert_path, chain)
    return SigningIdentity(chain_pem=cert_path.read_bytes(), key_pem=key_path.read_bytes(), alg="es256",
                           origin="project")


def _read_secret_file(path: Path, env: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        # Name the variable, not the path: the path may be inside the home folder.
        raise BadInput(f"cannot read the file named by {env} ({e.strerror})", where="environment",
                       fix=f"point {env} at a readable PEM file") from None


def _alg_for_key(key_pem: bytes, env: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise BadInput(f"the key named by {KEY_ENV} is not an unencrypted PEM private key", where="environment",
                       fix="export the key as PKCS#8 PEM without a password") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "es256", 384: "es384", 521: "es512"}.get(key.curve.key_size, "es256")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise BadInput("unsupported signing key type", where="environment", fix="use an EC P-256, Ed25519 or RSA key")


@contextmanager
def _keys_lock(d: Path) -> Iterator[None]:
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    fd = os.open(d / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Write with 0600 from the first byte (no window where the key is world-readable), then rename."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_project_certificate(title: str) -> tuple[bytes, bytes]:
    """A fresh ES256 CA + end-entity chain (PEM) and the end entity's private key (PEM).

    c2pa-rs's certificate profile: the signing certificate is X.509 v3, not a CA, has the
    digitalSignature key usage and an allowed extended key usage (emailProtection /
    documentSigning), carries authority and subject key identifiers, and is not self-signed;
    so a one-off CA issues it. The CA key is thrown away after issuing: nothing else can be
    signed with it later.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    safe_title = re.sub(r"[^\w .,'-]", "", title)[:48].strip() or "dreamcut project"

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dreamcut project certificate")])

    def usage(sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{safe_title} (dreamcut CA)")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(False, True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee = (x509.CertificateBuilder().subject_name(name(f"{safe_title} (dreamcut signer)")).issuer_name(ca_name)
          .public_key(ee_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(usage(True, False), critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    chain = ee.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    key = ee_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    return chain, key


def _signer(identity: SigningIdentity):
    import c2pa

    info = c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None)
    return c2pa.Signer.from_info(info)


# -- reading what a file already carries ---------------------------------------------------


def read_manifest_store(path: Path) -> dict | None:
    """The file's C2PA manifest store as a dict (with validation), or None when it has none."""
    import c2pa

    path = Path(path)
    sidecar = sidecar_path(path)
    mime = mime_for(path)
    try:
        if sidecar.is_file() and mime:
            with open(path, "rb") as f:
                with c2pa.Reader(mime, f, sidecar.read_bytes()) as r:
                    return json.loads(r.json())
        if mime is None:
            return None
        with c2pa.Reader(str(path)) as r:
            return json.loads(r.json())
    except c2pa.C2paError.ManifestNotFound:
        return None
    except c2pa.C2paError as e:
        if "ManifestNotFound" in str(e) or "JumbfNotFound" in str(e):
            return None
        raise WorkFailed(f"cannot read Content Credentials: {str(e)[:200]}", where=path.name) from None


def active_manifest(store: dict | None) -> dict | None:
    if not store or not store.get("active_manifest"):
        return None
    return store.get("manifests", {}).get(store["active_manifest"])


def _assertion(manifest: dict | None, label: str) -> dict | None:
    for a in (manifest or {}).get("assertions", []):
        if a.get("label") == label:
            return a.get("data")
    return None


def _actions(manifest: dict | None) -> list[dict]:
    for a in (manifest or {}).get("assertions", []):
        if a.get("label", "").startswith("c2pa.actions"):
            return list(a.get("data", {}).get("actions", []))
    return []


def provider_credentials(path: Path) -> dict | None:
    """What a provider's own manifest says (generator, source type, prompt-like fields), or None."""
    store = read_manifest_store(path)
    m = active_manifest(store)
    if m is None:
        return None
    gen = (m.get("claim_generator_info") or [{}])[0]
    acts = _actions(m)
    created = next((a for a in acts if a.get("action") == "c2pa.created"), {})
    return {"generator": " ".join(str(gen.get(k, "")) for k in ("name", "version")).strip() or m.get("claim_generator", ""),
            "digital_source_type": created.get("digitalSourceType"),
            "signed_by": (m.get("signature_info") or {}).get("issuer"),
            "title": m.get("title"),
            "actions": [a.get("action") for a in acts]}


# -- signing takes ------------------------------------------------------------------------------


def _generator_info() -> list[dict]:
    # c2pa-rs (claim v2) allows exactly one claim_generator_info: dreamcut; the model goes in softwareAgent.
    return [{"name": "dreamcut", "version": __version__}]


def _take_facts(project, take) -> dict:
    facts: dict[str, Any] = {"shot": take.shot_id, "take": take.id, "backend": take.backend,
                             "model": take.model, "seed": take.seed, "source": take.source,
                             "variant": take.variant, "source_type": (take.meta or {}).get("source_type")}
    if project.spec.include_prompt_in_credentials and take.prompt:
        facts["prompt"] = take.prompt
    meta = take.meta or {}
    if take.source == "imported":
        for k in ("provider", "provider_model"):
            if meta.get(k):
                facts[k] = meta[k]
    return {k: v for k, v in facts.items() if v is not None}


def _already_signed_for(store: dict | None, take_id: str) -> bool:
    m = active_manifest(store)
    facts = _assertion(m, TAKE_ASSERTION)
    return bool(facts and facts.get("take") == take_id and not _problems(store))


def sign_take(project, take_path: Path, take, *, original: Path | None = None) -> None:
    """Embed a signed manifest in the take file (temp file beside it, then rename).

    `original`: for an imported take, the file it was normalised from; a C2PA manifest in it
    (or in the take file itself) becomes the `parentOf` ingredient. Idempotent: a take already
    carrying dreamcut's valid manifest for the same take id is left alone.
    """
    import c2pa

    take_path = Path(take_path)
    mime = mime_for(take_path)
    if mime is None:
        raise BadInput("this file type cannot carry embedded Content Credentials", where=take_path.name,
                       fix="write takes as .mp4 or .mov")
    existing = read_manifest_store(take_path)
    if _already_signed_for(existing, take.id):
        return
    parent_src: Path | None = None
    if original is not None and mime_for(original) and read_manifest_store(original) is not None:
        parent_src = Path(original)
    elif existing is not None:
        parent_src = take_path
    label = "provider"
    if parent_src is None and take_source_type(take) is None:
        # Unknown origin: no creation claim can be made (c2pa.created needs a source type), so the
        # manifest says only that dreamcut opened the clip, which is its ingredient.
        parent_src = original if original is not None and mime_for(original) else take_path
        label = "original"
    facts = _take_facts(project, take)
    agent = {"name": take.backend, **({"version": take.model} if take.model else {})}
    params: dict[str, Any] = {k: facts[k] for k in ("seed", "prompt") if k in facts}
    if take.source == "imported":
        params["description"] = "imported by the director" + (
            f"; made with {facts['provider']}" if facts.get("provider") else "")
    if parent_src is not None:
        # The provider signed it first: its manifest is our parent, and we say we opened it.
        actions = [{"action": "c2pa.opened", "softwareAgent": agent,
                    "parameters": {"ingredientIds": [label], **params}}]
    else:
        source_type = take_source_type(take)
        actions = [{"action": "c2pa.created", **({"digitalSourceType": source_type} if source_type else {}),
                    "softwareAgent": agent, "parameters": params}]
    if take.source == "imported" and (take.meta or {}).get("normalized"):
        actions.append({"action": "c2pa.transcoded", "softwareAgent": {"name": "dreamcut", "version": __version__},
                        "parameters": {"description": (take.meta or {}).get("normalized")}})
    title = Path(take.path).name if take.path else take_path.name
    manifest = {"claim_generator_info": _generator_info(), "title": title, "format": mime,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}},
                               {"label": TAKE_ASSERTION, "data": facts}]}
    identity = signing_identity(project)
    try:
        with c2pa.Builder(manifest) as builder:
            if parent_src is not None:
                with open(parent_src, "rb") as f:
                    builder.add_ingredient({"title": (take.meta or {}).get("original_name") or title,
                                            "relationship": "parentOf", "label": label},
                                           mime_for(parent_src) or mime, f)
            with atomic_path(take_path) as tmp, open(take_path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(_signer(identity), mime, src, dst)
    except c2pa.C2paError as e:
        raise WorkFailed(f"could not sign the take: {str(e)[:200]}", where=take.shot_id,
                         fix="check the take file plays; rerun to try again") from None


# -- signing renders ------------------------------------------------------------------------------


@dataclass
class TimelineTake:
    shot: str
    take: str
    path: str  # relative to the project root
    trimmed: bool
    speed: float


def timeline_takes(timeline) -> list[TimelineTake]:
    """The takes of the timeline's V1 clips (read through `dreamcut.timeline`), first use order, one per take."""
    import opentimelineio as otio

    from dreamcut import timeline as tl

    if isinstance(timeline, (str, Path)):
        timeline = otio.adapters.read_from_file(str(timeline))
    fps = tl.info(timeline).fps
    seen: dict[str, TimelineTake] = {}
    for view, clip in zip(tl.clips(timeline, fps), tl.iter_clips(timeline)):
        if not view.media:
            continue
        avail = getattr(clip.media_reference, "available_range", None)
        trimmed = True
        if avail is not None:
            length = tl.frames(avail.duration, fps)
            trimmed = view.source_in > 0 or abs(view.source_frames - length) > 0.5
        if view.take in seen:
            seen[view.take].trimmed = True
            continue
        seen[view.take] = TimelineTake(shot=view.shot or "", take=view.take, path=view.path, trimmed=trimmed,
                                       speed=view.speed)
    return list(seen.values())


def _catalog_take_facts(project, takes: list[TimelineTake]) -> dict[str, dict]:
    """What the catalog knows of each take, carried in the render's own assertion so the chain
    reads even when a take file was never signed."""
    out = {}
    for t in takes:
        take = project.catalog.take(t.take)
        if take is not None:
            out[t.take] = _take_facts(project, take)
    return out


def _composite_type(project, takes: list[TimelineTake]) -> str:
    """compositeWithTrainedAlgorithmicMedia when any take came from a model (or is of unknown origin),
    compositeCapture when every take is camera footage, compositeSynthetic for previz (with or
    without camera footage)."""
    kinds = set()
    for t in takes:
        take = project.catalog.take(t.take)
        if take is None or is_ai_take(take):
            return COMPOSITE_WITH_TRAINED_MEDIA
        kinds.add(take_source_type(take))
    if not takes:
        return COMPOSITE_WITH_TRAINED_MEDIA
    return COMPOSITE_CAPTURE if kinds == {DIGITAL_CAPTURE} else COMPOSITE_SYNTHETIC


def sign_render(project, render_path: Path, timeline, *, parent: Path | None = None, disclose: bool = True,
                title: str | None = None, parent_title: str | None = None) -> None:
    """Embed a manifest in a render: the timeline's takes as components, or (upscale) its master as parent.

    disclose: first write the disclosure tags (`disclosure_metadata`) into the file's metadata
    (a stream-copy remux, no re-encode), so every signed render says what it is even to tools
    that do not read C2PA. The renderer sets them at encode time instead (`disclose=False`),
    so signing is the only pass over a render after ffmpeg wrote it.
    title / parent_title: the names the manifest gives the file and its parent (a render
    signed under a temp name before it is renamed into place).
    """
    import c2pa

    from dreamcut.media import probe

    render_path = Path(render_path)
    mime = mime_for(render_path)
    if mime is None or not can_embed(render_path):
        raise BadInput("this file type cannot carry embedded Content Credentials", where=render_path.name,
                       fix="use write_sidecar for it")
    if disclose:
        add_disclosure_tags(render_path, disclosure_metadata(project, timeline))
    info = probe(render_path)
    size = [info.video.width, info.video.height] if info.video else None
    takes = timeline_takes(timeline)
    agent = {"name": "dreamcut", "version": __version__}
    render_facts: dict[str, Any] = {"title": project.spec.title, "takes": [t.take for t in takes],
                                    "take_facts": _catalog_take_facts(project, takes),
                                    "shots": sorted({t.shot for t in takes if t.shot}), "size": size,
                                    "fps": project.spec.fps}
    ingredients: list[tuple[dict, Path]] = []
    if parent is not None:
        parent = Path(parent)
        pinfo = probe(parent)
        psize = [pinfo.video.width, pinfo.video.height] if pinfo.video else None
        render_facts["upscaled_from"] = parent_title or parent.name
        actions = [{"action": "c2pa.opened", "softwareAgent": agent, "parameters": {"ingredientIds": ["master"]}},
                   {"action": "c2pa.resized", "softwareAgent": agent,
                    "parameters": {"description": f"upscaled {psize} -> {size}"}},
                   {"action": "c2pa.transcoded", "softwareAgent": agent}]
        ingredients.append(({"title": parent_title or parent.name, "relationship": "parentOf", "label": "master"},
                            parent))
    else:
        if not takes:
            raise BadInput("the timeline has no clips", where=render_path.name, fix="plan the edit first")
        ids = [f"take:{t.take}" for t in takes]
        actions = [{"action": "c2pa.created", "digitalSourceType": _composite_type(project, takes),
                    "softwareAgent": agent},
                   {"action": "c2pa.placed", "softwareAgent": agent, "parameters": {"ingredientIds": ids}}]
        trimmed = [f"take:{t.take}" for t in takes if t.trimmed]
        if trimmed:
            actions.append({"action": "c2pa.trimmed", "softwareAgent": agent,
                            "parameters": {"ingredientIds": trimmed}})
        retimed = [f"take:{t.take}" for t in takes if abs(t.speed - 1.0) > 1e-3]
        if retimed:
            actions.append({"action": "c2pa.edited", "softwareAgent": agent,
                            "parameters": {"ingredientIds": retimed, "description": "retimed to the music"}})
        resized = []
        for t in takes:
            take_file = project.abs(t.path)
            if not take_file.is_file() or not project.inside(take_file):
                raise WorkFailed("a take of the timeline is missing", where=t.path,
                                 fix="restore the take or re-plan the edit")
            ingredients.append(({"title": f"{t.shot} / {t.take}" if t.shot else t.take, "relationship": "componentOf",
                                 "label": f"take:{t.take}"}, take_file))
            tinfo = probe(take_file)
            if size and tinfo.video and [tinfo.video.width, tinfo.video.height] != size:
                resized.append(f"take:{t.take}")
        if resized:
            actions.append({"action": "c2pa.cropped", "softwareAgent": agent,
                            "parameters": {"ingredientIds": resized, "description": "fitted to the frame"}})
            actions.append({"action": "c2pa.resized", "softwareAgent": agent,
                            "parameters": {"ingredientIds": resized}})
        song = project.song_path
        if song.is_file() and mime_for(song) and project.inside(song):
            render_facts["song"] = song.name
            ingredients.append(({"title": song.name, "relationship": "componentOf", "label": "song"}, song))
            actions.append({"action": "c2pa.placed", "softwareAgent": agent,
                            "parameters": {"ingredientIds": ["song"], "description": "the song"}})
        actions.append({"action": "c2pa.transcoded", "softwareAgent": agent})
    manifest = {"claim_generator_info": _generator_info(), "title": title or render_path.name, "format": mime,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}},
                               {"label": RENDER_ASSERTION, "data": render_facts}]}
    identity = signing_identity(project)
    try:
        with c2pa.Builder(manifest) as builder:
            for ing, p in ingredients:
                with open(p, "rb") as f:
                    builder.add_ingredient(ing, mime_for(p) or mime, f)
            with atomic_path(render_path) as tmp, open(render_path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(_signer(identity), mime, src, dst)
    except c2pa.C2paError as e:
        raise WorkFailed(f"could not sign the render: {str(e)[:200]}", where=render_path.name,
                         fix="rerun the render") from None


# -- sidecars for formats that cannot embed ------------------------------------------------------------


def sidecar_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".c2pa")


def json_sidecar_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SIDECAR_JSON_SUFFIX)


def write_sidecar(project, path: Path, *, timeline=None, sources: list[Path] | None = None,
                  action: str = "c2pa.created") -> Path:
    """Sign a file that cannot hold a manifest: returns the sidecar written beside it.

    Media c2pa understands (e.g. a .mov the user wants untouched) gets a binary `.c2pa`
    manifest store bound to its bytes. Anything else (.otio, .xml, .edl) gets
    `<name>.c2pa.json`: the file's SHA-256, the takes it references, and an ES256 signature
    over that JSON by the project's certificate, which `verify` checks.
    """
    import c2pa

    path = Path(path)
    takes = timeline_takes(timeline) if timeline is not None else []
    mime = mime_for(path)
    identity = signing_identity(project)
    if mime is not None:
        manifest = {"claim_generator_info": _generator_info(), "title": path.name, "format": mime,
                    "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                        {"action": "c2pa.created", "digitalSourceType": _composite_type(project, takes),
                         "softwareAgent": {"name": "dreamcut", "version": __version__}}]}},
                        {"label": RENDER_ASSERTION, "data": {"takes": [t.take for t in takes],
                                                             "take_facts": _catalog_take_facts(project, takes)}}]}
        if takes:
            ids = [f"take:{t.take}" for t in takes]
            manifest["assertions"][0]["data"]["actions"].append(
                {"action": "c2pa.placed", "parameters": {"ingredientIds": ids}})
        out = sidecar_path(path)
        with c2pa.Builder(manifest) as builder:
            builder.set_no_embed()
            for t in takes:
                take_file = project.abs(t.path)
                if take_file.is_file() and mime_for(take_file):
                    with open(take_file, "rb") as f:
                        builder.add_ingredient({"title": f"{t.shot} / {t.take}" if t.shot else t.take,
                                                "relationship": "componentOf", "label": f"take:{t.take}"},
                                               mime_for(take_file), f)
            with open(path, "rb") as src, atomic_path(out) as tmp_manifest:
                import io

                manifest_bytes = builder.sign(_signer(identity), mime, src, io.BytesIO())
                tmp_manifest.write_bytes(manifest_bytes)
        return out
    ingredients = []
    for t in takes:
        p = project.abs(t.path)
        facts = {"shot": t.shot, "take": t.take}
        take = project.catalog.take(t.take)
        if take is not None:
            facts = _take_facts(project, take)
        ingredients.append({**facts, "path": t.path, "sha256": file_sha256(p) if p.is_file() else None,
                            "relationship": "componentOf"})
    for s in sources or []:
        s = Path(s)
        ingredients.append({"title": s.name, "path": project.rel(s) if project.inside(s) else s.name,
                            "sha256": file_sha256(s), "relationship": "parentOf"})
    body = {"format": SIDECAR_FORMAT, "claim_generator_info": _generator_info(),
            "asset": {"name": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size},
            "actions": [{"action": action, "digitalSourceType": _composite_type(project, takes)}],
            "ingredients": ingredients, "title": project.spec.title}
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    doc = {"manifest": body, "signature": {"alg": "ES256", "value": base64.b64encode(_sign_bytes(identity, payload)).decode(),
                                           "certificate_chain": identity.chain_pem.decode()}}
    out = json_sidecar_path(path)
    write_text_atomic(out, json.dumps(doc, indent=2, sort_keys=True))
    return out


def sign_exports(project, outputs, timeline) -> list[Path]:
    """Sidecar credentials for each export (`pipeline.export`'s dict or a list of paths); returns the sidecars."""
    paths = list(outputs.values()) if isinstance(outputs, dict) else list(outputs)
    written = []
    for p in paths:
        p = Path(p)
        if not p.is_file() or p.name.endswith((".c2pa", SIDECAR_JSON_SUFFIX)):
            continue
        if can_embed(p) and read_manifest_store(p) is not None:
            continue  # a take copied into a bundle already carries its own credentials
        written.append(write_sidecar(project, p, timeline=timeline))
    return written


def _sign_bytes(identity: SigningIdentity, payload: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(identity.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise BadInput("JSON sidecars are signed with EC keys only", where="environment",
                       fix=f"use an EC P-256 key in {KEY_ENV}")
    return key.sign(payload, ec.ECDSA(hashes.SHA256()))


# -- verification -----------------------------------------------------------------------------------


@dataclass
class IngredientFacts:
    title: str
    relationship: str
    shot: str | None = None
    take: str | None = None
    backend: str | None = None
    model: str | None = None
    seed: int | None = None
    prompt: str | None = None
    source: str | None = None
    provider: str | None = None
    signed: bool = False


@dataclass
class VerifyReport:
    path: Path
    has_manifest: bool
    valid: bool = False  # signature and content hashes check out
    tampered: bool = False
    problems: list[str] = field(default_factory=list)  # failure codes (without trust-only ones)
    signer: str = "unknown"  # "project" | "user" | "trusted" | "unknown"
    generator: str = ""
    created_from: str = ""  # digital source type or action summary
    takes: list[IngredientFacts] = field(default_factory=list)
    parent: str | None = None
    take_facts: dict | None = None  # when the file is a take itself
    provider: str | None = None  # the provider whose own manifest this take keeps as its parent
    sidecar: str | None = None

    @property
    def exit_code(self) -> int:
        if not self.has_manifest:
            return 2
        return 0 if self.valid and not self.tampered else 1

    def text(self) -> str:
        name = self.path.name
        if not self.has_manifest:
            return f"{name}: no Content Credentials found"
        parts = [f"{name}: made by {self.generator or 'an unknown tool'}"]
        if self.take_facts:
            parts[0] += f" as {_describe_take(self.take_facts)}"
        if self.takes:
            parts[0] += f" from {len(self.takes)} take{'s' if len(self.takes) != 1 else ''}: " + \
                ", ".join(_describe_take(vars(t)) for t in self.takes)
        if self.provider:
            parts.append(f"the provider's own Content Credentials are kept ({self.provider})")
        if self.parent:
            parts.append(f"upscaled from {self.parent}")
        if self.sidecar:
            parts.append(f"credentials in {self.sidecar}")
        if self.valid and not self.tampered:
            who = {"project": "signed by this project's own certificate (not on a public trust list)",
                   "user": "signed by your certificate",
                   "trusted": "signed by a trusted certificate"}.get(self.signer, "signer not recognised")
            parts.append(f"signature valid, {who}")
            parts.append("no tampering detected")
        else:
            parts.append("INVALID: " + ("the file was changed after signing" if self.tampered else
                                        "the credentials do not validate") + f" ({', '.join(self.problems[:4])})")
        return "; ".join(parts)


def _describe_take(f: dict) -> str:
    if f.get("source") == "imported" or f.get("backend") == "imported":
        bits = [f"imported from {f['provider']}" if f.get("provider") else "imported"]
        if f.get("model"):
            bits.append(f"model {f['model']}")
    else:
        bits = [str(f.get("backend") or "unknown generator")]
        if f.get("model"):
            bits[0] += f":{f['model']}"
    if f.get("seed") is not None:
        bits.append(f"seed {f['seed']}")
    if f.get("prompt"):
        p = str(f["prompt"])
        bits.append("'" + (p if len(p) <= 60 else p[:57] + "...") + "'")
    label = f"shot {f.get('shot')} take {f.get('take')}" if f.get("shot") else str(f.get("title") or f.get("take"))
    return f"{label} ({', '.join(bits)})"


def _problems(store: dict | None) -> list[str]:
    codes = [s.get("code", "") for s in (store or {}).get("validation_status", []) or []]
    return [c for c in codes if c not in _TRUST_ONLY_CODES]


def _find_project_root(path: Path) -> Path | None:
    for d in [Path(path).resolve().parent, *Path(path).resolve().parents]:
        if (d / "dreamcut.yaml").is_file() and (d / ".dreamcut").is_dir():
            return d
    return None


def _project_serials(path: Path, project=None) -> set[str]:
    from cryptography import x509

    root = project.root if project is not None else _find_project_root(path)
    serials = set()
    if root is not None:
        chain = root / ".dreamcut" / "keys" / "signer-chain.pem"
        if chain.is_file():
            serials.add(str(x509.load_pem_x509_certificates(chain.read_bytes())[0].serial_number))
    return serials


def verify(path: Path, project=None) -> VerifyReport:
    """Read and validate `path`'s Content Credentials (embedded, `.c2pa` or `.c2pa.json` sidecar)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("file does not exist", where=path.name)
    if json_sidecar_path(path).is_file() and mime_for(path) is None:
        return _verify_json_sidecar(path, project)
    store = read_manifest_store(path)
    m = active_manifest(store)
    report = VerifyReport(path=path, has_manifest=m is not None)
    if m is None:
        return report
    if sidecar_path(path).is_file():
        report.sidecar = sidecar_path(path).name
    report.problems = _problems(store)
    report.tampered = any("mismatch" in c or "dataHash" in c or "bmffHash" in c for c in report.problems)
    report.valid = not report.problems
    gen = (m.get("claim_generator_info") or [{}])[0]
    report.generator = f"{gen.get('name', '')} {gen.get('version', '')}".strip()
    serial = str((m.get("signature_info") or {}).get("cert_serial_number", ""))
    codes = {s.get("code") for s in store.get("validation_status", []) or []}
    if serial and serial in _project_serials(path, project):
        report.signer = "project"
    elif "signingCredential.untrusted" not in codes:
        report.signer = "trusted"
    elif os.environ.get(CERT_ENV):
        report.signer = "user"
    report.take_facts = _assertion(m, TAKE_ASSERTION)
    manifests = store.get("manifests", {})
    if report.take_facts is not None:
        for ing in m.get("ingredients", []) or []:
            child = manifests.get(ing.get("active_manifest") or "")
            if ing.get("relationship") == "parentOf" and child is not None:
                g = (child.get("claim_generator_info") or [{}])[0]
                report.provider = f"{g.get('name', '')} {g.get('version', '')}".strip() or "unnamed tool"

    def collect(man: dict) -> None:
        for ing in man.get("ingredients", []) or []:
            rel = ing.get("relationship")
            child = manifests.get(ing.get("active_manifest") or "", None)
            if rel == "parentOf" and _assertion(man, RENDER_ASSERTION) is not None and child is not None and \
                    _assertion(child, RENDER_ASSERTION) is not None:
                report.parent = report.parent or ing.get("title")
                collect(child)
                continue
            if rel != "componentOf":
                continue
            facts = _assertion(child, TAKE_ASSERTION) if child else None
            render_facts = _assertion(man, RENDER_ASSERTION) or {}
            if facts is None and ing.get("title") == render_facts.get("song"):
                continue
            if facts is None:  # an unsigned take: the render's own assertion says what it was
                facts = (render_facts.get("take_facts") or {}).get(str(ing.get("title", "")).rsplit(" / ", 1)[-1])
            f = IngredientFacts(title=ing.get("title", ""), relationship=rel, signed=child is not None)
            for k, v in (facts or {}).items():
                if hasattr(f, k):
                    setattr(f, k, v)
            report.takes.append(f)

    collect(m)
    return report


def _verify_json_sidecar(path: Path, project=None) -> VerifyReport:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    side = json_sidecar_path(path)
    report = VerifyReport(path=path, has_manifest=True, sidecar=side.name)
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
        body, sig = doc["manifest"], doc["signature"]
        cert = x509.load_pem_x509_certificates(sig["certificate_chain"].encode())[0]
        payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        cert.public_key().verify(base64.b64decode(sig["value"]), payload, ec.ECDSA(hashes.SHA256()))
    except (ValueError, KeyError, TypeError, InvalidSignature):
        report.problems = ["claimSignature.mismatch"]
        report.tampered = True
        return report
    gen = (body.get("claim_generator_info") or [{}])[0]
    report.generator = f"{gen.get('name', '')} {gen.get('version', '')}".strip()
    if file_sha256(path) != body.get("asset", {}).get("sha256"):
        report.problems.append("assertion.dataHash.mismatch")
        report.tampered = True
    report.valid = not report.problems
    report.signer = "project" if str(cert.serial_number) in _project_serials(path, project) else "unknown"
    for ing in body.get("ingredients", []):
        if ing.get("relationship") == "componentOf":
            f = IngredientFacts(title=ing.get("take", ""), relationship="componentOf")
            for k, v in ing.items():
                if k in ("shot", "take", "backend", "model", "seed", "prompt", "source", "provider"):
                    setattr(f, k, v)
            report.takes.append(f)
    return report


# -- disclosure and credits -----------------------------------------------------------------------


@dataclass
class CreditsFacts:
    shots: int
    takes_used: int
    generated: int
    imported: int
    models: list[str]
    uses_ai: bool = True
    camera_only: bool = False  # every take used is camera footage


def credits_facts(project, timeline) -> CreditsFacts:
    all_takes = project.catalog.takes(kind="take")
    if timeline is not None:
        used = timeline_takes(timeline)
    else:  # no edit yet: speak about every take made so far
        used = [TimelineTake(shot=t.shot_id, take=t.id, path=t.path, trimmed=False, speed=1.0) for t in all_takes]
    by_id = {t.id: t for t in all_takes}
    models: list[str] = []
    for t in used:
        take = by_id.get(t.take)
        if take is None:
            continue
        label = _model_label(take)
        if label not in models:
            models.append(label)
    imported = sum(1 for t in all_takes if t.source == "imported")
    uses_ai = any(is_ai_take(by_id[t.take]) for t in used if t.take in by_id) or not used
    camera_only = bool(used) and all(t.take in by_id and take_source_type(by_id[t.take]) == DIGITAL_CAPTURE
                                     for t in used)
    return CreditsFacts(camera_only=camera_only, shots=len({t.shot for t in used if t.shot}) or len(used), takes_used=len(used),
                        generated=len(all_takes) - imported, imported=imported, models=models, uses_ai=uses_ai)


def _model_label(take) -> str:
    if take.source == "imported":
        if (take.meta or {}).get("source_type") == "camera":
            return "camera footage"
        provider = (take.meta or {}).get("provider_model") or (take.meta or {}).get("provider")
        return f"{provider} (imported)" if provider else "imported clips"
    if take.backend == "animatic":
        return "dreamcut animatic (previz, not AI)"
    return f"{take.backend}:{take.model}" if take.model else take.backend


def credits_text(project, timeline) -> str:
    """Plain text for a video description: what is AI here, from which models, chosen from how many takes."""
    f = credits_facts(project, timeline)
    total = f.generated + f.imported
    made = f"{f.generated} generated" + (f" + {f.imported} imported" if f.imported else "")
    what = ("Video made with generative AI and edited with dreamcut " if f.uses_ai else
            "Camera footage edited with dreamcut (no AI-generated footage) " if f.camera_only else
            "Previz animatic (procedural, no AI-generated footage) made with dreamcut ")
    lines = [f"{project.spec.title}",
             what + __version__ + ".",
             f"{f.shots} shot{'s' if f.shots != 1 else ''} chosen from {total} takes ({made}).",
             "Models: " + (", ".join(f.models) if f.models else "none recorded") + ".",
             "Content Credentials (C2PA) are embedded in the video: check them with `dreamcut verify` "
             "or any C2PA viewer."]
    return "\n".join(lines)


def disclosure_metadata(project, timeline=None) -> dict[str, str]:
    """MP4 tags marking the video as AI-generated (pass to ffmpeg as `-metadata k=v`)."""
    f = credits_facts(project, timeline) if timeline is not None else None
    if f is None or f.uses_ai:
        note = "AI-generated video (synthetic media, IPTC trainedAlgorithmicMedia) made with dreamcut " + __version__
    elif f.camera_only:
        note = "Camera footage (IPTC digitalCapture, not AI-generated) edited with dreamcut " + __version__
    else:
        note = "Previz animatic (procedural synthetic media, not AI-generated) made with dreamcut " + __version__
    if f is not None and f.models:
        note += "; models: " + ", ".join(f.models)
    note += "; Content Credentials (C2PA) embedded"
    return {"title": project.spec.title, "comment": note, "description": note,
            "encoder": f"dreamcut {__version__}", "ai_generated": "true" if f is None or f.uses_ai else "false"}


def add_disclosure_tags(path: Path, tags: dict[str, str]) -> None:
    """Write `tags` into an MP4/MOV's metadata by a stream-copy remux (temp file, then rename)."""
    from dreamcut.media import run_ffmpeg

    path = Path(path)
    args = ["-i", str(path), "-map", "0:v", "-map", "0:a?", "-c", "copy", "-map_metadata", "0"]
    for k, v in tags.items():
        args += ["-metadata", f"{k}={v}"]
    with atomic_path(path) as tmp:
        run_ffmpeg([*args, "-movflags", "+faststart+use_metadata_tags", str(tmp)], what="tagging the render")


def end_card_image(project, timeline, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 HxWx3 end card with the credits text, white on black, sized to `size` (w, h)."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    img = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    lines = credits_text(project, timeline).splitlines()[:-1]  # the verify hint is for descriptions, not the card
    font_size = max(10, h // 22)
    font = ImageFont.load_default(size=font_size)
    title_font = ImageFont.load_default(size=int(font_size * 1.5))
    wrapped: list[tuple[str, Any]] = []
    for i, line in enumerate(lines):
        f = title_font if i == 0 else font
        words, cur = line.split(), ""
        for word in words:
            trial = (cur + " " + word).strip()
            if draw.textlength(trial, font=f) > w * 0.88 and cur:
                wrapped.append((cur, f))
                cur = word
            else:
                cur = trial
        wrapped.append((cur, f))
    gap = int(font_size * 0.6)
    heights = [(f.getbbox(t or " ")[3] - f.getbbox(t or " ")[1]) for t, f in wrapped]
    y = (h - (sum(heights) + gap * (len(wrapped) - 1))) // 2
    for (text, f), lh in zip(wrapped, heights):
        tw = draw.textlength(text, font=f)
        draw.text(((w - tw) / 2, y), text, font=f, fill=(235, 235, 235))
        y += lh + gap
    return np.asarray(img, dtype=np.uint8).copy()


def end_card_clip(project, timeline, path: Path, size: tuple[int, int], fps: int, seconds: float = 4.0) -> Path:
    """The end card as an H.264 clip (fades in and out over half a second), for the renderer to append."""
    from dreamcut.media import FrameWriter

    card = end_card_image(project, timeline, size).astype(np.float32)
    n = max(1, int(round(seconds * fps)))
    fade = max(1, int(round(0.5 * fps)))
    with atomic_path(Path(path)) as tmp:
        with FrameWriter(tmp, size[0], size[1], fps) as w:
            for i in range(n):
                k = min(1.0, (i + 1) / fade, (n - i) / fade)
                w.write((card * k).astype(np.uint8))
    return Path(path)


# -- privacy -----------------------------------------------------------------------------------------


def find_leaks(root: Path, needles: list[str], *, skip: tuple[str, ...] = (".dreamcut/keys",)) -> list[tuple[str, str]]:
    """Every (file relative to root, needle) where a needle appears in a file's bytes (text or binary).

    Skips the signing-key folder (the key must live somewhere); searches raw bytes and the
    UTF-16 form, so SQLite pages, MP4 boxes and JSON are all covered.
    """
    root = Path(root)
    hits: list[tuple[str, str]] = []
    forms = [(n, [n.encode(), n.encode("utf-16-le")]) for n in needles if n]
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        data = p.read_bytes()
        for needle, encs in forms:
            if any(e in data for e in encs):
                hits.append((rel, needle))
    return hits


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
