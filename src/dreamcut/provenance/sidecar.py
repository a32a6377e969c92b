"""Credentials for files that cannot embed a manifest (.otio, .xml, .edl, a bundle).

Media c2pa understands gets a binary `.c2pa` manifest store bound to its bytes; anything else
gets `<name>.c2pa.json`, the file's SHA-256 and its takes signed by the project's certificate.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from dreamcut import __version__
from dreamcut.media import atomic_path, file_sha256, write_text_atomic
from dreamcut.provenance.identity import sign_bytes, signer, signing_identity
from dreamcut.provenance.manifest import (RENDER_ASSERTION, SIDECAR_FORMAT, SIDECAR_JSON_SUFFIX, can_embed,
                                          generator_info, json_sidecar_path, mime_for, read_manifest_store,
                                          sidecar_path)
from dreamcut.provenance.takes import catalog_take_facts, composite_type, take_facts, timeline_takes

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
        manifest = {"claim_generator_info": generator_info(), "title": path.name, "format": mime,
                    "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                        {"action": "c2pa.created", "digitalSourceType": composite_type(project, takes),
                         "softwareAgent": {"name": "dreamcut", "version": __version__}}]}},
                        {"label": RENDER_ASSERTION, "data": {"takes": [t.take for t in takes],
                                                             "take_facts": catalog_take_facts(project, takes)}}]}
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
                manifest_bytes = builder.sign(signer(identity), mime, src, io.BytesIO())
                tmp_manifest.write_bytes(manifest_bytes)
        return out
    ingredients = []
    for t in takes:
        p = project.abs(t.path)
        facts = {"shot": t.shot, "take": t.take}
        take = project.catalog.take(t.take)
        if take is not None:
            facts = take_facts(project, take)
        ingredients.append({**facts, "path": t.path, "sha256": file_sha256(p) if p.is_file() else None,
                            "relationship": "componentOf"})
    for s in sources or []:
        s = Path(s)
        ingredients.append({"title": s.name, "path": project.rel(s) if project.inside(s) else s.name,
                            "sha256": file_sha256(s), "relationship": "parentOf"})
    body = {"format": SIDECAR_FORMAT, "claim_generator_info": generator_info(),
            "asset": {"name": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size},
            "actions": [{"action": action, "digitalSourceType": composite_type(project, takes)}],
            "ingredients": ingredients, "title": project.spec.title}
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    doc = {"manifest": body, "signature": {"alg": "ES256", "value": base64.b64encode(sign_bytes(identity, payload)).decode(),
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
