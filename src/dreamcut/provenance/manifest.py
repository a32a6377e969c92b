"""The C2PA vocabulary dreamcut speaks, and reading what a file already carries.

IPTC digital source types and which one a take is (`take_source_type`); dreamcut's own assertion
labels; which formats can embed a manifest (`mime_for`, `can_embed`) and where a sidecar goes;
`read_manifest_store` and the helpers that pick the active manifest, an assertion or the actions
out of it; the validation codes that are problems (not merely an untrusted signer).
"""

from __future__ import annotations

import json
from pathlib import Path

from dreamcut import __version__
from dreamcut.errors import WorkFailed

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


def sidecar_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".c2pa")


def json_sidecar_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SIDECAR_JSON_SUFFIX)


def generator_info() -> list[dict]:
    # c2pa-rs (claim v2) allows exactly one claim_generator_info: dreamcut; the model goes in softwareAgent.
    return [{"name": "dreamcut", "version": __version__}]


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


def assertion(manifest: dict | None, label: str) -> dict | None:
    for a in (manifest or {}).get("assertions", []):
        if a.get("label") == label:
            return a.get("data")
    return None


def manifest_actions(manifest: dict | None) -> list[dict]:
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
    acts = manifest_actions(m)
    created = next((a for a in acts if a.get("action") == "c2pa.created"), {})
    return {"generator": " ".join(str(gen.get(k, "")) for k in ("name", "version")).strip() or m.get("claim_generator", ""),
            "digital_source_type": created.get("digitalSourceType"),
            "signed_by": (m.get("signature_info") or {}).get("issuer"),
            "title": m.get("title"),
            "actions": [a.get("action") for a in acts]}


def validation_problems(store: dict | None) -> list[str]:
    codes = [s.get("code", "") for s in (store or {}).get("validation_status", []) or []]
    return [c for c in codes if c not in _TRUST_ONLY_CODES]


def credentials_valid(store: dict | None) -> bool:
    """Whether a manifest store (`read_manifest_store`) has an active manifest that validates
    (signature and content hashes; an untrusted signer alone is not a problem): `verify`'s `valid`."""
    return active_manifest(store) is not None and not validation_problems(store)
