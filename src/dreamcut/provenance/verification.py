"""`verify`: read and validate a file's Content Credentials and explain the chain in plain words."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dreamcut.errors import BadInput
from dreamcut.media import file_sha256
from dreamcut.provenance.identity import CERT_ENV
from dreamcut.provenance.manifest import (RENDER_ASSERTION, TAKE_ASSERTION, active_manifest, assertion,
                                          credentials_valid, json_sidecar_path, mime_for, read_manifest_store,
                                          sidecar_path, validation_problems)

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
    keyframe: dict | None = None  # the cast keyframe a take was animated from: {"file", "sha256"}
    # that keyframe as the project has it now (`check_keyframe_file`), when verified inside the project:
    # {"path", "state": "matches" | "changed" | "missing", "sha256": what the file hashes to now}
    keyframe_file: dict | None = None
    sidecar: str | None = None

    @property
    def keyframe_changed(self) -> bool:
        return bool(self.keyframe_file and self.keyframe_file.get("state") == "changed")

    @property
    def exit_code(self) -> int:
        if not self.has_manifest:
            return 2
        return 0 if self.valid and not self.tampered and not self.keyframe_changed else 1

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
        if self.keyframe:
            parts.append(f"animated from its cast keyframe {self.keyframe.get('file')} "
                         f"(sha256 {str(self.keyframe.get('sha256'))[:16]})")
        kf = self.keyframe_file
        if kf and kf.get("state") == "matches":
            parts.append(f"keyframe file matches ({kf.get('path')})")
        elif kf and kf.get("state") == "changed":
            parts.append(f"KEYFRAME FILE CHANGED: {kf.get('path')} is not the image signed with this take "
                         f"(sha256 now {str(kf.get('sha256'))[:16]}, signed {str(self.keyframe.get('sha256'))[:16]})")
        elif kf and kf.get("state") == "missing":
            parts.append("keyframe file no longer in this project (not re-hashed)")
        if self.parent:
            parts.append(f"upscaled from {self.parent}")
        if self.sidecar:
            parts.append(f"credentials in {self.sidecar}")
        if self.valid and not self.tampered:
            who = {"project": "signed by this project's own certificate (not on a public trust list)",
                   "user": "signed by your certificate",
                   "trusted": "signed by a trusted certificate"}.get(self.signer, "signer not recognised")
            parts.append(f"signature valid, {who}")
            parts.append("the take itself is unchanged" if self.keyframe_changed else "no tampering detected")
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


def check_keyframe_file(report: VerifyReport, project) -> None:
    """Re-hash the cast keyframe a take names in its credentials, as `project` still keeps it
    (`provenance.takes.keyframe_file` of the take the credentials name): `report.keyframe_file`
    says whether it is the image signed with the take. Nothing when the take names no keyframe or
    is not one of the project's takes."""
    from dreamcut.provenance.takes import keyframe_file

    if not report.keyframe or project is None or not report.take_facts:
        return
    take = project.catalog.take(str(report.take_facts.get("take") or ""))
    if take is None:
        return
    path = keyframe_file(project, take)
    if path is None or path.name != report.keyframe.get("file"):
        report.keyframe_file = {"path": None, "state": "missing", "sha256": None}
        return
    now = file_sha256(path)
    report.keyframe_file = {"path": project.rel(path), "sha256": now,
                            "state": "matches" if now == report.keyframe.get("sha256") else "changed"}


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
    report.problems = validation_problems(store)
    report.tampered = any("mismatch" in c or "dataHash" in c or "bmffHash" in c for c in report.problems)
    report.valid = credentials_valid(store)
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
    report.take_facts = assertion(m, TAKE_ASSERTION)
    manifests = store.get("manifests", {})
    if report.take_facts is not None:
        for ing in m.get("ingredients", []) or []:
            child = manifests.get(ing.get("active_manifest") or "")
            if ing.get("relationship") == "parentOf" and child is not None:
                g = (child.get("claim_generator_info") or [{}])[0]
                report.provider = f"{g.get('name', '')} {g.get('version', '')}".strip() or "unnamed tool"
        named = report.take_facts.get("cast_keyframe")
        if named and any(i.get("relationship") == "componentOf" and i.get("title") == named.get("file")
                         for i in m.get("ingredients", []) or []):
            report.keyframe = {"file": named.get("file"), "sha256": named.get("sha256")}
            check_keyframe_file(report, project)

    def collect(man: dict) -> None:
        if assertion(man, TAKE_ASSERTION) is not None:
            return  # a take's own ingredients (a provider's manifest, its cast keyframe) are not takes
        for ing in man.get("ingredients", []) or []:
            rel = ing.get("relationship")
            child = manifests.get(ing.get("active_manifest") or "", None)
            if rel == "parentOf" and assertion(man, RENDER_ASSERTION) is not None and child is not None and \
                    assertion(child, RENDER_ASSERTION) is not None:
                report.parent = report.parent or ing.get("title")
                collect(child)
                continue
            if rel != "componentOf":
                continue
            facts = assertion(child, TAKE_ASSERTION) if child else None
            render_facts = assertion(man, RENDER_ASSERTION) or {}
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
