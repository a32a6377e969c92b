"""Prompt composition: style preset + global style + shot prompt (+ scene segments) + variation.

Pure functions only: text in, text out. No I/O, no provider calls, no SDK imports.

A shot's prompt is plain text or an ordered list of scene segments (`prompts.scenes`: a YAML
list, `[0-5s]` markers in the text, or natural phrasing such as "..., then ...").

`{a|b|c}` alternatives expand into numbered variants over the whole shot (its text or
segments, then the style): variant n picks alternatives by the mixed-radix digits of n,
first group fastest, so variant 7 is always the same text for the same prompt.

A composed shot keeps its structure (lead, scenes, style, and the camera moves of a single
scene) and planning puts it in the request's fields. Each backend writes the one text its
provider receives from those fields in its own file (`format_prompt`: the provider's length
limit, where camera and style words go, how scenes are labelled); `format_prompt(backend, ...)`
here finds it by name. Over a limit, style is trimmed first, then the least important clauses,
never mid-word, never the subject. `check_prompts` lists what would go wrong (errors) or what
providers are known to refuse (warnings) without rewriting it.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from math import prod
from types import ModuleType
from typing import TYPE_CHECKING, Literal, Sequence

from dreamcut.backends._prompt import Draft, fit, paragraph_draft
from dreamcut.backends.base import CastMember, GenerationRequest, SceneSegment
from dreamcut.errors import BadInput
# parse_timed and split_natural are re-exported: `dreamcut.prompts` stays the one import for callers
from dreamcut.prompts.scenes import (Scene, parse_timed, segment_times, shot_scenes, split_natural,  # noqa: F401
                                     timing_errors)

if TYPE_CHECKING:
    from dreamcut.backends.registry import BackendRef
    from dreamcut.spec import ProjectSpec, Shot

_ALT_RE = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_SEP = "\x1e"  # joins a shot's texts so one variant number picks across all of them


@dataclass(frozen=True)
class ComposedPrompt:
    text: str  # what a single-text backend receives (before per-backend formatting)
    negative: str
    segments: tuple[SceneSegment, ...]  # scene segments in take seconds (one segment for a plain prompt)
    variant: int
    subject: str = ""  # the shot's own words, variant expanded, without style
    style: str = ""  # preset + global style, variant expanded
    lead: str = ""  # words before the first timed segment: they apply to the whole take
    seconds: float = 0.0  # the take's length
    camera: tuple[str, ...] = ()  # camera clauses lifted out of a single scene (`split_camera`)
    cast: tuple[CastMember, ...] = ()  # who is in the shot (`cast.shot_members`: names and descriptions)

    @property
    def multi(self) -> bool:
        return len(self.segments) > 1


@dataclass(frozen=True)
class PromptProblem:
    """One finding of `check_prompts`: shot id, error|warning, what, and the fix."""

    shot_id: str
    severity: Literal["error", "warning"]
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.shot_id}: {self.severity}: {self.message} (fix: {self.fix})"


# -- {a|b} variants ------------------------------------------------------------------


def alternatives(text: str) -> list[list[str]]:
    """The `{a|b}` groups of a text, in order."""
    return [[alt.strip() for alt in m.group(1).split("|")] for m in _ALT_RE.finditer(text)]


def variant_count(text: str) -> int:
    groups = alternatives(text)
    return prod(len(g) for g in groups) if groups else 1


def expand(text: str, variant: int) -> str:
    """Resolve every `{a|b}` group for `variant` (taken modulo the number of variants)."""
    groups = alternatives(text)
    if not groups:
        return text
    n = variant % prod(len(g) for g in groups)
    picks = []
    for g in groups:
        picks.append(g[n % len(g)])
        n //= len(g)
    it = iter(picks)
    return _ALT_RE.sub(lambda _m: next(it), text)


def alternative_errors(text: str) -> list[str]:
    """Syntax errors in `{a|b}` groups: unbalanced or nested braces, one or empty alternatives."""
    errors: list[str] = []
    depth, start = 0, -1
    for i, ch in enumerate(text):
        if ch == "{":
            if depth:
                errors.append(f"nested '{{' at character {i + 1}: groups cannot contain groups")
            depth += 1
            start = i if depth == 1 else start
        elif ch == "}":
            if not depth:
                errors.append(f"'}}' at character {i + 1} closes no '{{'")
                continue
            depth -= 1
            if depth == 0:
                body = text[start + 1:i]
                shown = _clip(text[start:i + 1], 40)
                alts = body.split("|")
                if "{" in body:
                    pass  # already reported as nested
                elif len(alts) < 2:
                    errors.append(f"{shown} has one alternative; write {{a|b}} with at least two")
                elif any(not a.strip() for a in alts):
                    errors.append(f"{shown} has an empty alternative")
    if depth:
        errors.append(f"'{{' at character {start + 1} is never closed")
    return errors


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# -- composition ---------------------------------------------------------------------


def style_text(spec: "ProjectSpec", shot: "Shot | None" = None) -> str:
    """The style block: the preset named by the shot or project (if any), then the global style."""
    parts = []
    preset = (shot.style if shot and shot.style else None) or spec.style_preset
    if preset:
        parts.append(resolve_style(spec, preset))
    if spec.style.strip():
        parts.append(spec.style.strip())
    return ", ".join(p.strip().rstrip(". ") for p in parts if p.strip())


def resolve_style(spec: "ProjectSpec", name: str) -> str:
    from dreamcut.styles import find_preset

    preset = find_preset(name, spec)
    if preset is not None:
        return preset.text
    raise BadInput(f"unknown style preset {name!r}", where="dreamcut.yaml",
                   fix="run `dreamcut styles` to list presets, or define it under `styles:`")


def _shot_texts(shot: "Shot") -> list[str]:
    return [shot.prompt] if isinstance(shot.prompt, str) else [s.text for s in shot.prompt]


def shot_variant_count(spec: "ProjectSpec", shot: "Shot") -> int:
    """How many distinct variants the shot's `{a|b}` groups (and the style's) make."""
    return variant_count(_SEP.join(_shot_texts(shot) + [style_text(spec, shot)]))


def compose(spec: "ProjectSpec", shot: "Shot", variant: int = 0, seconds: float | None = None) -> ComposedPrompt:
    """The full prompt of one variant of a shot."""
    seconds = seconds if seconds is not None else spec.shot_seconds(shot)
    texts = _shot_texts(shot)
    expanded = expand(_SEP.join(texts + [style_text(spec, shot)]), variant).split(_SEP)
    style = expanded[-1]
    if isinstance(shot.prompt, str):
        lead, scenes = shot_scenes(expanded[0])
    else:
        lead, scenes = "", [Scene(t.strip(), s.at, s.seconds) for t, s in zip(expanded[:-1], shot.prompt)]
    times = segment_times(scenes, seconds)
    segments = tuple(SceneSegment(a, b, s.text) for s, (a, b) in zip(scenes, times))
    if len(segments) == 1 and not lead:
        subject = segments[0].text
    else:
        bodies = [s.text.rstrip(". ") for s in segments if s.text.strip()]
        subject = ((lead.rstrip(". ") + ". ") if lead else "") + " Then ".join(bodies) + "."
        if not bodies:
            subject = lead
    subject = subject.strip()
    from dreamcut.cast import cast_sentence, shot_members

    cast = shot_members(spec, shot)
    words = cast_sentence(cast)
    body = f"{subject.rstrip()} {words}" if words else subject
    text = f"{body.rstrip()} Style: {style}." if style else body
    camera: tuple[str, ...] = ()
    if len(segments) == 1:
        # A single scene's camera clauses ("slow push in") are the take's camera moves: a field of
        # their own, placed by each backend where its prompt guide puts them.
        rest, moves = split_camera(segments[0].text)
        segments, camera = (replace(segments[0], text=rest),), tuple(moves)
    negative = ", ".join(x for x in (spec.negative.strip(), (shot.negative or "").strip()) if x)
    return ComposedPrompt(text=text, negative=negative, segments=segments, variant=variant, subject=subject,
                          style=style, lead=lead, seconds=seconds, camera=camera, cast=cast)


# -- what each backend receives ------------------------------------------------------
# Each backend formats a request's fields in its own file, the way its provider's prompt guide
# says (`PROMPT_CHARS`, `prompt_draft(request)`, `format_prompt(request, max_chars)`): its length
# limit, where the camera and style words go, how scenes are labelled. The draft a prompt is built
# in and its trimming are shared by the backends (`backends/_prompt.py`); here a backend's rules
# are found by its name, without importing any SDK.

PLAIN_CHARS = 8000  # a name with no backend module ("imported"): spec.MAX_PROMPT_CHARS

# A small curated list (not exhaustive) of public figures and trademarked characters that
# hosted video models are known to refuse. Matching is whole words, case-insensitive.
PUBLIC_FIGURES = (
    "donald trump", "joe biden", "barack obama", "kamala harris", "hillary clinton", "vladimir putin",
    "xi jinping", "emmanuel macron", "king charles", "queen elizabeth", "princess diana", "pope francis",
    "elon musk", "mark zuckerberg", "jeff bezos", "bill gates", "taylor swift", "beyonce", "beyoncé",
    "rihanna", "lady gaga", "billie eilish", "ariana grande", "kanye west", "kim kardashian", "drake",
    "tom cruise", "brad pitt", "keanu reeves", "scarlett johansson", "leonardo dicaprio", "oprah winfrey",
    "michael jackson", "elvis presley", "marilyn monroe", "david bowie", "freddie mercury",
)
TRADEMARKED_CHARACTERS = ("mickey mouse", "spider-man", "spiderman", "batman", "superman", "darth vader",
                          "pikachu", "harry potter", "homer simpson", "shrek", "hello kitty", "iron man")


def _backend_module(backend: "str | BackendRef") -> ModuleType | None:
    """The module of a backend named `name` or `name:model` (it imports no SDK); None for a name
    with no backend behind it ("imported")."""
    from dreamcut.backends.registry import BACKENDS

    entry = BACKENDS.get(str(backend).partition(":")[0].strip().lower())
    return importlib.import_module(entry[0]) if entry else None


def max_prompt_chars(backend: "str | BackendRef") -> int:
    """The prompt length limit of a backend (`name` or `name:model`): its file's `PROMPT_CHARS`."""
    module = _backend_module(backend)
    return int(module.PROMPT_CHARS) if module is not None else PLAIN_CHARS


def prompt_draft(backend: "str | BackendRef", request: GenerationRequest) -> "Draft":
    """The backend's draft of the request's prompt, before any trimming."""
    module = _backend_module(backend)
    return module.prompt_draft(request) if module is not None else paragraph_draft(request)


def refuses_real_people(backend: "str | BackendRef") -> bool:
    """Whether the provider's published usage policy refuses prompts depicting real, identifiable
    people (its file's `REFUSES_REAL_PEOPLE`)."""
    module = _backend_module(backend)
    return bool(getattr(module, "REFUSES_REAL_PEOPLE", False))


def format_prompt(backend: "str | BackendRef", request: GenerationRequest, max_chars: int | None = None) -> str:
    """The one text `backend` receives for `request`: its own `format_prompt`, within `max_chars`
    (default: the backend's limit)."""
    module = _backend_module(backend)
    limit = max_chars if max_chars is not None else max_prompt_chars(backend)
    if module is None:
        return fit(paragraph_draft(request), limit)
    return module.format_prompt(request, limit)


def prompt_request(composed: ComposedPrompt) -> GenerationRequest:
    """The prompt fields of a composed shot as a request (no geometry): what formatters read."""
    return GenerationRequest(shot_id="", prompt=composed.text, seconds=composed.seconds, width=0, height=0, fps=0,
                             seed=0, negative_prompt=composed.negative, variant=composed.variant,
                             segments=composed.segments, lead=composed.lead, style=composed.style,
                             camera=composed.camera, cast=composed.cast)


def format_for_backend(composed: ComposedPrompt, backend_name: str, max_chars: int) -> str:
    """The one text a backend receives for a composed shot (see `format_prompt`).

    Negative prompts are not folded in: they travel in `GenerationRequest.negative_prompt` for
    the backends that accept one. Over `max_chars` a draft is trimmed by `fit`."""
    return format_prompt(backend_name, prompt_request(composed), max_chars)


_CAMERA_RE = re.compile(
    r"\b(camera|zoom\w*|dolly\w*|pan|pans|panning|tilt\w*|orbit\w*|handheld|hand-held|tracking|push(?:es)? in|"
    r"pull(?:s)? back|crane|aerial|drone|close-up|wide shot|static shot|locked-off|slow motion)\b", re.I)


def split_camera(text: str) -> tuple[str, list[str]]:
    """Lift the clauses that are about the camera ("slow push in", "the camera orbits them") out of
    a scene's text. The first clause always stays: it carries the subject."""
    clauses = [c.strip() for c in re.split(r"[,;]", text) if c.strip()]
    if len(clauses) < 2:
        return text, []
    keep, camera = [clauses[0]], []
    for c in clauses[1:]:
        (camera if _CAMERA_RE.search(c) and len(c.split()) <= 12 else keep).append(c)
    return ", ".join(keep), camera


# -- checks ------------------------------------------------------------------------


def _mentions(text: str, names: Sequence[str]) -> list[str]:
    low = " " + re.sub(r"[^\w\-é]+", " ", text.lower()) + " "
    return [n for n in names if f" {n} " in low]


def check_prompts(spec: "ProjectSpec") -> list[PromptProblem]:
    """Every prompt problem of a shot list, errors first within each shot.

    Errors: unknown style preset, `{a|b}` syntax, a prompt empty after composition, segment
    times that overrun the take, a subject too long for the model. Warnings: style trimmed to
    fit, and names of real people or trademarked characters that the shot's provider is known
    to refuse (a small curated list; listed, never rewritten).
    """
    from dreamcut.styles import all_presets, find_preset

    problems: list[PromptProblem] = []
    known = _clip(", ".join(all_presets(spec)), 200)
    project_preset_ok = True
    if spec.style_preset and find_preset(spec.style_preset, spec) is None:
        project_preset_ok = False
        problems.append(PromptProblem("project", "error", f"style_preset {spec.style_preset!r} is not a preset",
                                      f"use one of: {known}, or define it under `styles:`"))
    for where, text in (("style", spec.style), ("negative", spec.negative)):
        for err in alternative_errors(text):
            problems.append(PromptProblem("project", "error", f"{where}: {err}", "fix the braces in `"
                                          f"{where}:`; write alternatives as {{a|b|c}}"))
    for shot in spec.shots:
        sid = shot.id
        backend = spec.shot_backend(shot)
        limit = max_prompt_chars(backend)
        seconds = spec.shot_seconds(shot)
        syntax = []
        for i, t in enumerate(_shot_texts(shot)):
            where = "prompt" if isinstance(shot.prompt, str) else f"prompt segment {i + 1}"
            syntax += [f"{where}: {e}" for e in alternative_errors(t)]
        syntax += [f"negative: {e}" for e in alternative_errors(shot.negative or "")]
        for err in syntax:
            problems.append(PromptProblem(sid, "error", err, "balance the braces; write alternatives as {a|b|c}"))
        if shot.style and find_preset(shot.style, spec) is None:
            problems.append(PromptProblem(sid, "error", f"style {shot.style!r} is not a preset",
                                          f"use one of: {known}, or define it under `styles:`"))
            continue
        if not project_preset_ok:
            continue
        lead, scenes = shot_scenes(shot.prompt)
        for err in timing_errors(scenes, seconds):
            problems.append(PromptProblem(sid, "error", err,
                                          f"keep every segment inside 0-{seconds:g} s, in order, or set the shot's "
                                          "`seconds:`"))
        composed = compose(spec, shot, 0)
        empty = [i + 1 for i, s in enumerate(composed.segments) if not re.search(r"\w", s.text)]
        if len(empty) == len(composed.segments) and not re.search(r"\w", composed.lead):
            problems.append(PromptProblem(sid, "error", "the prompt is empty after composition",
                                          "write what the shot shows"))
        elif empty and len(composed.segments) > 1:
            problems.append(PromptProblem(sid, "error", f"segment {', '.join(map(str, empty))} has no text",
                                          "write what that segment shows after its time marker"))
        n_variants = shot_variant_count(spec, shot)
        longest = max((compose(spec, shot, v) for v in range(min(n_variants, 64))),
                      key=lambda c: len(c.text)) if n_variants > 1 else composed
        request = prompt_request(longest)
        need = len(prompt_draft(backend, request).bare().render())
        full = len(format_prompt(backend, request, 10**9))
        if need > limit:
            problems.append(PromptProblem(sid, "error",
                                          f"the prompt needs {need} characters without style; {backend} takes {limit}",
                                          f"shorten the prompt by {need - limit} characters or split the shot"))
        elif full > limit:
            problems.append(PromptProblem(sid, "warning",
                                          f"{full} characters with style; {backend} takes {limit}, so style "
                                          "clauses will be trimmed from the end",
                                          "shorten the style or the prompt to keep every style word"))
        if refuses_real_people(backend):
            words = " ".join(_shot_texts(shot) + [style_text(spec, shot)])
            for name in _mentions(words, PUBLIC_FIGURES):
                problems.append(PromptProblem(sid, "warning",
                                              f"names a real person ({name!r}); {backend.name} refuses prompts "
                                              "depicting real, identifiable people",
                                              "describe a fictional person instead (age, look, clothes)"))
            for name in _mentions(words, TRADEMARKED_CHARACTERS):
                problems.append(PromptProblem(sid, "warning",
                                              f"names a trademarked character ({name!r}); {backend.name} is known "
                                              "to refuse these", "describe an original character"))
    return problems
