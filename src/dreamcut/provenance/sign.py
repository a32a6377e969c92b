"""Embedding signed manifests: in a take (`sign_take`) and in a render (`sign_render`).

A take's manifest says how it was made (`c2pa.created` with its digital source type, the
generator, seed and, unless the spec switches it off, the prompt); a provider's manifest it
already carries becomes its `parentOf` ingredient. A render's manifest lists every take of the
timeline as a `componentOf` ingredient with the edit's actions; an upscale or a deliverable
names its master as `parentOf`. Files are never rewritten in place (temp file, then rename).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dreamcut import __version__
from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import atomic_path
from dreamcut.provenance.credits import add_disclosure_tags, disclosure_metadata
from dreamcut.provenance.identity import signer, signing_identity
from dreamcut.provenance.manifest import (RENDER_ASSERTION, TAKE_ASSERTION, active_manifest, assertion, can_embed,
                                          generator_info, mime_for, read_manifest_store, take_source_type,
                                          validation_problems)
from dreamcut.provenance.takes import catalog_take_facts, composite_type, keyframe_file, take_facts, timeline_takes

def _already_signed_for(store: dict | None, take_id: str) -> bool:
    m = active_manifest(store)
    facts = assertion(m, TAKE_ASSERTION)
    return bool(facts and facts.get("take") == take_id and not validation_problems(store))


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
    facts = take_facts(project, take)
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
    keyframe = keyframe_file(project, take)
    if keyframe is not None:  # animated from its cast keyframe: that image is its first frame, an ingredient
        from dreamcut.media import file_sha256

        facts = {**facts, "cast_keyframe": {"file": keyframe.name, "sha256": file_sha256(keyframe)}}
        actions.append({"action": "c2pa.placed", "softwareAgent": agent,
                        "parameters": {"ingredientIds": ["keyframe"],
                                       "description": "the cast keyframe the take was animated from"}})
    if take.source == "imported" and (take.meta or {}).get("normalized"):
        actions.append({"action": "c2pa.transcoded", "softwareAgent": {"name": "dreamcut", "version": __version__},
                        "parameters": {"description": (take.meta or {}).get("normalized")}})
    title = Path(take.path).name if take.path else take_path.name
    manifest = {"claim_generator_info": generator_info(), "title": title, "format": mime,
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
            if keyframe is not None:
                with open(keyframe, "rb") as f:
                    builder.add_ingredient({"title": keyframe.name, "relationship": "componentOf",
                                            "label": "keyframe"}, mime_for(keyframe), f)
            with atomic_path(take_path) as tmp, open(take_path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer(identity), mime, src, dst)
    except c2pa.C2paError as e:
        raise WorkFailed(f"could not sign the take: {str(e)[:200]}", where=take.shot_id,
                         fix="check the take file plays; rerun to try again") from None


def sign_render(project, render_path: Path, timeline, *, parent: Path | None = None, disclose: bool = True,
                title: str | None = None, parent_title: str | None = None,
                derived: list[tuple[str, str]] | None = None) -> None:
    """Embed a manifest in a render: the timeline's takes as components, or (upscale) its master as parent.

    derived: with `parent`, what was done to it as (C2PA action, description) pairs (a deliverable:
    trimmed, cropped, resized, loudness edited) in place of the upscale's resize.

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
                                    "take_facts": catalog_take_facts(project, takes),
                                    "shots": sorted({t.shot for t in takes if t.shot}), "size": size,
                                    "fps": project.spec.fps}
    ingredients: list[tuple[dict, Path]] = []
    if parent is not None:
        parent = Path(parent)
        pinfo = probe(parent)
        psize = [pinfo.video.width, pinfo.video.height] if pinfo.video else None
        steps = derived if derived is not None else [("c2pa.resized", f"upscaled {psize} -> {size}")]
        render_facts["upscaled_from" if derived is None else "derived_from"] = parent_title or parent.name
        actions = [{"action": "c2pa.opened", "softwareAgent": agent, "parameters": {"ingredientIds": ["master"]}},
                   *({"action": a, "softwareAgent": agent, "parameters": {"description": d}} for a, d in steps),
                   {"action": "c2pa.transcoded", "softwareAgent": agent}]
        ingredients.append(({"title": parent_title or parent.name, "relationship": "parentOf", "label": "master"},
                            parent))
    else:
        if not takes:
            raise BadInput("the timeline has no clips", where=render_path.name, fix="plan the edit first")
        ids = [f"take:{t.take}" for t in takes]
        actions = [{"action": "c2pa.created", "digitalSourceType": composite_type(project, takes),
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
    manifest = {"claim_generator_info": generator_info(), "title": title or render_path.name, "format": mime,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}},
                               {"label": RENDER_ASSERTION, "data": render_facts}]}
    identity = signing_identity(project)
    try:
        with c2pa.Builder(manifest) as builder:
            for ing, p in ingredients:
                with open(p, "rb") as f:
                    builder.add_ingredient(ing, mime_for(p) or mime, f)
            with atomic_path(render_path) as tmp, open(render_path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer(identity), mime, src, dst)
    except c2pa.C2paError as e:
        raise WorkFailed(f"could not sign the render: {str(e)[:200]}", where=render_path.name,
                         fix="rerun the render") from None
