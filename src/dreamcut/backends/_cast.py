"""Where a backend puts the cast's reference images: the routing type every backend returns.

Each backend decides in its own file, with a pure `cast_routing(model, cast, own_refs)` function,
which cast reference goes into which field of its API (Runway's `promptImage`, Veo's
`reference_images` of type ASSET, Luma's keyframes, an OpenAI-compatible server's characters and
`input_reference`, a diffusers pipeline's conditioning image, a Replicate or fal model's input),
and which are dropped and why. `build` uses that routing to make the request; `dreamcut check`
prints the same routing (`explain`), so what is said is what is sent.

Nothing here imports an SDK; `explain` imports each backend module used (each imports its SDK
only with its first client), and a backend that cannot load is said, not fatal.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

from dreamcut.backends.base import CastLike

if TYPE_CHECKING:
    from dreamcut.spec import ProjectSpec


@dataclass(frozen=True)
class CastRef:
    """One cast reference image sent: whose, which file or URL, and where in the request."""

    member: str
    ref: str
    field: str


@dataclass(frozen=True)
class CastRouting:
    """What a backend does with a shot's cast: refs sent (and where), refs dropped (and why), and
    `how`: one sentence on the mechanism. `problems`: what must be fixed before money is spent."""

    backend: str
    sent: tuple[CastRef, ...] = ()
    dropped: tuple[tuple[str, str, str], ...] = ()  # (member, ref, why)
    how: str = ""
    problems: tuple[str, ...] = ()

    def refs_to(self, prefix: str) -> list[str]:
        """The refs sent to fields starting with `prefix`, in order."""
        return [r.ref for r in self.sent if r.field.startswith(prefix)]

    def lines(self) -> list[str]:
        out = [f"{self.backend}: {self.how}"] if self.how else []
        out += [f"  {r.member}: {_short(r.ref)} -> {r.field}" for r in self.sent]
        out += [f"  {m}: {_short(ref)} dropped: {why}" for m, ref, why in self.dropped]
        out += [f"  problem: {p}" for p in self.problems]
        return out


def _short(ref: str) -> str:
    if "://" in ref:
        return ref if len(ref) <= 60 else ref[:57] + "..."
    return ref.replace("\\", "/").rsplit("/", 1)[-1]


def all_refs(cast: Sequence[CastLike]) -> list[tuple[str, str]]:
    """(member, ref) for every reference of every member, in cast order."""
    return [(m.name, r) for m in cast for r in m.refs]


def first_frame_routing(backend: str, cast: Sequence[CastLike], own_refs: Sequence[str], *, slots: int,
                        field: str, why_one: str, usable=lambda ref: True, unusable: str = "") -> CastRouting:
    """The routing of an API whose only image input is a first frame (`slots` image inputs in all):
    the first usable cast reference takes the first frame when the shot gives no image of its own;
    every other reference is dropped with `why_one`. The description travels in the prompt either way."""
    sent: list[CastRef] = []
    dropped: list[tuple[str, str, str]] = []
    free = slots > 0 and not own_refs
    for member, ref in all_refs(cast):
        if not usable(ref):
            dropped.append((member, ref, unusable))
        elif free and not sent:
            sent.append(CastRef(member, ref, field))
        elif own_refs and not sent:
            dropped.append((member, ref, "the shot's own refs: take the image input"))
        else:
            dropped.append((member, ref, why_one))
    how = (f"the first cast picture goes in as the {field}; descriptions in the prompt" if sent
           else "descriptions in the prompt only")
    return CastRouting(backend, tuple(sent), tuple(dropped), how)


def routing_for(backend_name: str, model: str | None, cast: Sequence[CastLike], own_refs: Sequence[str] = (),
                *, keyframe_size: tuple[int, int] | None = None) -> CastRouting:
    """The backend's own `cast_routing` (imported from its module: no SDK is imported). With
    `keyframe_size` (a shot with `cast_keyframe: true`, no refs of its own, at that video size) the
    backend's `keyframe_routing` where it has one; where it has none, its usual routing, said."""
    from dreamcut.backends.registry import BACKENDS

    try:
        module = importlib.import_module(BACKENDS[backend_name][0])
    except ImportError as e:
        return CastRouting(f"{backend_name}:{model}" if model else backend_name,
                           how=f"cannot tell: the backend does not load (missing package {e.name or e})")
    route = getattr(module, "cast_routing", None)
    if route is None:
        return CastRouting(f"{backend_name}:{model}" if model else backend_name,
                           how="takes no pictures: the descriptions travel in the prompt only",
                           dropped=tuple((m, r, f"{backend_name} has no image input for a cast") for m, r in all_refs(cast)))
    if keyframe_size is not None and not own_refs and any(m.refs for m in cast):
        through = getattr(module, "keyframe_routing", None)
        if through is not None:
            return through(model, list(cast), keyframe_size)
        plain = route(model, list(cast), list(own_refs))
        return CastRouting(plain.backend, plain.sent, plain.dropped,
                           f"{plain.how} (cast_keyframe: {backend_name} has no keyframe step, so none is made)",
                           plain.problems)
    plain = route(model, list(cast), list(own_refs))
    if keyframe_size is not None and own_refs and any(m.refs for m in cast):
        return CastRouting(plain.backend, plain.sent, plain.dropped,
                           f"{plain.how} (cast_keyframe: the shot's own first frame wins, so none is made)",
                           plain.problems)
    return plain


def explain(spec: "ProjectSpec", root: str = ".") -> list[str]:
    """What each backend will do with the cast, for `dreamcut check`: one block per backend and cast
    combination, naming the shots. [] when no shot names a cast member."""
    return [line for _, lines in cast_blocks(spec, root) for line in lines]


def cast_blocks(spec: "ProjectSpec", root: str = ".", shots: Sequence[str] | None = None) -> list[tuple[bool, list[str]]]:
    """`explain`'s blocks, each with whether its takes start from a cast keyframe (its first line
    then says what the keyframe is made from, via which image model at what price, then which
    video model: the line `dreamcut check` and `dreamcut estimate` both print). `shots`: only these."""
    from dreamcut.cast import resolve_ref, shot_members

    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], list] = {}
    for shot in spec.shots:
        if not shot.cast or (shots is not None and shot.id not in shots):
            continue
        key = (str(spec.shot_backend(shot)), tuple(shot.cast), tuple(shot.refs), bool(shot.cast_keyframe))
        groups.setdefault(key, []).append(shot)
    out: list[tuple[bool, list[str]]] = []
    for (backend_text, names, own, keyframe), shots_ in groups.items():
        name, _, model = backend_text.partition(":")
        members = shot_members(spec, shots_[0], root)  # the members as the requests carry them
        routing = routing_for(name, model or None, members, [resolve_ref(r, root) for r in own],
                              keyframe_size=tuple(spec.master_size) if keyframe else None)
        shots = [s.id for s in shots_]
        where = ", ".join(shots[:6]) + (f" (+{len(shots) - 6})" if len(shots) > 6 else "")
        lines = routing.lines()
        lines += [f"  {m.name}: no pictures (its description in the prompt only)" for m in members if not m.refs]
        if lines:
            lines[0] = f"{lines[0]} [shots {where}: {', '.join(names)}]"
            out.append((any(r.field.startswith(CAST_KEYFRAME) for r in routing.sent), lines))
    return out


def with_first_frame(request, routing: CastRouting):
    """`request` with the cast references its routing sends as image inputs (`refs`), for a backend
    whose image inputs are its first (and last) frame. Unchanged when the shot has refs of its own."""
    from dataclasses import replace

    refs = routing.refs_to(FIRST_FRAME)
    if request.refs or not refs:
        return request
    return replace(request, refs=tuple(refs))


FIRST_FRAME = "first frame"  # the field name prefix first_frame_routing callers use for the image input


# -- the cast keyframe: a paid image step before the video ------------------------------------------

KEYFRAME_OPTION = "cast_keyframe"  # a shot's `cast_keyframe: true`, carried in the request's options
CAST_KEYFRAME = "cast keyframe"  # the field name prefix for the refs a keyframe step sends


def wants_keyframe(request) -> bool:
    """The take opts into a cast keyframe (`cast_keyframe: true` on its shot), names cast members with
    pictures, and gives no image of its own (a shot's own first frame wins). A preview (a few frames,
    cheapest settings) never makes one."""
    return bool(request.option(KEYFRAME_OPTION) and not request.refs and not request.preview
                and any(m.refs for m in request.cast))


def after_keyframe(request, keyframe_ref: str):
    """The video request once the keyframe exists: the keyframe is its first frame, and the step is done
    (no keyframe option, so it is not priced or made again)."""
    from dataclasses import replace

    options = tuple((k, v) for k, v in request.options if k != KEYFRAME_OPTION)
    return replace(request, refs=(keyframe_ref,), options=options)


class KeyframeStep(Protocol):
    """A backend's cast keyframe step (`backend.cast_keyframe(request)`): one paid image job made from
    every cast picture the image model takes, then animated as the video's first frame. The job
    runner drives it like any provider job (submit, poll, cancel, what is charged), with its own job
    key, its own charge and ledger line (`generate.keyframes`)."""

    name: str
    model: str
    suffix: str  # the downloaded image's file suffix
    cancel_billing: object
    min_poll_interval: float

    def price(self, request) -> float: ...
    def routing(self, request) -> CastRouting: ...
    def submit(self, request, idempotency_key: str) -> str: ...
    def poll(self, job_id: str): ...
    def charged(self, request, status) -> float: ...
    def download(self, job_id: str, dest, progress=None) -> None: ...
    def cancel(self, job_id: str) -> None: ...
    def video_ref(self, job_id: str, path) -> str: ...


def through_keyframe(backend: str, step_how: str, sent, dropped, video_field: str) -> CastRouting:
    """The routing of a take whose cast goes through a keyframe: every picture sent to the image
    request (`sent`: CastRef with CAST_KEYFRAME fields), then the keyframe into `video_field`."""
    how = f"{step_how}, then the keyframe goes in as the {video_field}; descriptions in the prompt"
    return CastRouting(backend, tuple(sent), tuple(dropped), how)
