"""The draft a backend's prompt is built in, and trimming it to the provider's length limit.

Shared by the backends' `format_prompt` functions (each backend decides its own form in its own
file: where the camera goes, how scenes are labelled, its limit). Pure text functions over a
`GenerationRequest`'s fields; nothing here knows a provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from dreamcut.backends.base import GenerationRequest
from dreamcut.cast import cast_sentence

ONE_SHOT = "One continuous shot with no cuts; each scene flows into the next."


def fmt_seconds(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def seconds_label(a: float, b: float) -> str:
    """A scene's time as most prompt guides write it: "0–5 s:"."""
    return f"{fmt_seconds(a)}–{fmt_seconds(b)} s:"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(" ,;")
    if not text:
        return ""
    return text if text[-1] in ".!?…" else text + "."


@dataclass
class Draft:
    """A prompt in parts, so trimming can take the least important words first."""

    header: str
    lead: str
    items: list[tuple[str, str]]  # (timing label or "", text)
    joiner: str
    style: list[str]  # style clauses, most important first
    style_label: str = "Style: "
    camera: list[str] = field(default_factory=list)  # the take's camera moves
    camera_first: bool = False  # "camera move: scene. details." (else "Camera: ..." after the scenes)
    plain: bool = False  # a caller's own text (no fields): sent as written, only trimmed
    cast: str = ""  # who is in the shot (`cast.cast_sentence`): after the scenes and camera, before the style

    def bare(self) -> "Draft":
        """The part never trimmed away: no style, no header, no camera."""
        return replace(self, header="", style=[], camera=[], cast="", items=list(self.items))

    def render(self) -> str:
        if self.plain:
            return " ".join(t.strip() for _, t in self.items if t.strip())
        parts = [self.header, _sentence(self.lead)] if self.header or self.lead else []
        if self.camera and self.camera_first and self.items:
            label, text = self.items[0]
            cam = ", ".join(self.camera)
            parts.append(f"{cam[0].upper() + cam[1:]}: {_sentence(text)}")
            parts.extend(_sentence(t) for _, t in self.items[1:])
            if self.cast:
                parts.append(self.cast)
            if self.style:
                parts.append(_sentence(f"{self.style_label}{', '.join(self.style)}"))
            return " ".join(p for p in parts if p)
        body = []
        for i, (label, text) in enumerate(self.items):
            t = _sentence(text)
            if not label and i > 0 and self.joiner:
                t = f"{self.joiner} {t[0].lower() + t[1:] if t[:1].isupper() and not t[:2].isupper() else t}"
            if label and t:
                t = t[0].upper() + t[1:]
            body.append(f"{label} {t}".strip() if label else t)
        parts.extend(body)
        if self.camera:
            moves = [re.sub(r"^the camera\s+", "", c, flags=re.I) for c in self.camera]
            parts.append(_sentence("Camera: " + ", ".join(moves)))
        if self.cast:
            parts.append(self.cast)
        if self.style:
            parts.append(_sentence(f"{self.style_label}{', '.join(self.style)}"))
        return " ".join(p for p in parts if p)


def _clauses(style: str) -> list[str]:
    return [c.strip() for c in style.split(",") if c.strip()]


def timed_draft(request: GenerationRequest, label: Callable[[float, float], str] = seconds_label, *,
                camera_first: bool = False, header: str = ONE_SHOT) -> Draft:
    """The cloud form: a single scene reads subject first with its camera named apart; several
    scenes are one continuous shot, each scene on its own timed line. A request with no scenes
    (a caller's plain text) is sent as written."""
    if not request.segments:
        return Draft("", "", [("", request.prompt)], "", [], plain=True)
    style = _clauses(request.style)
    cast = cast_sentence(request.cast)
    if len(request.segments) == 1:
        return Draft("", request.lead, [("", request.segments[0].text)], "", style, camera=list(request.camera),
                     camera_first=camera_first, cast=cast)
    items = [(label(s.start, s.end), s.text) for s in request.segments]
    return Draft(header, request.lead, items, "", style, camera=list(request.camera), camera_first=camera_first,
                 cast=cast)


def paragraph_draft(request: GenerationRequest) -> Draft:
    """The local-model form: one chronological paragraph (LTX-Video's guide), scenes joined by
    "Then", camera words inline after the scene, then the style."""
    if not request.segments:
        return Draft("", "", [("", request.prompt)], "", [], plain=True)
    style = _clauses(request.style)
    cast = cast_sentence(request.cast)
    if len(request.segments) == 1:
        return Draft("", request.lead, [("", ", ".join([request.segments[0].text, *request.camera]))], "", style,
                     cast=cast)
    return Draft("", request.lead, [("", s.text) for s in request.segments], "Then", style, cast=cast)


def _drop_last_clause(text: str, min_words: int) -> str | None:
    """The text without its last comma/semicolon clause or, failing that, its last word."""
    for sep in (";", ","):
        if sep in text:
            head = text[: text.rfind(sep)].rstrip()
            if len(head.split()) >= min_words:
                return head
    words = text.split()
    if len(words) > min_words:
        return " ".join(words[:-1])
    return None


def cut_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;.") + "…"


def fit(draft: Draft, max_chars: int) -> str:
    """The draft's text within `max_chars`, the least important words going first: style clauses
    from the end, the header, the style entirely, the camera moves, then the last clauses of the
    longest scene (or the lead), never below its first words; only then a cut at a word boundary.
    Never mid-word."""
    draft = replace(draft, items=list(draft.items), style=list(draft.style), camera=list(draft.camera))
    text = draft.render()
    while len(text) > max_chars and len(draft.style) > 1:
        draft.style.pop()
        text = draft.render()
    if len(text) > max_chars and draft.header:
        draft.header = ""
        text = draft.render()
    if len(text) > max_chars and draft.style:
        draft.style = []
        text = draft.render()
    while len(text) > max_chars and draft.camera:
        draft.camera.pop()
        text = draft.render()
    while len(text) > max_chars and draft.cast:
        # The cast's descriptions go after style and camera, the last member first: who is in the
        # shot matters more than how it is lit, less than what happens.
        head, sep, _ = draft.cast.rstrip(".").rpartition("; ")
        draft.cast = (head + ".") if sep else ""
        text = draft.render()
    while len(text) > max_chars:
        # Shorten the longest of the lead and the scenes by a clause (or a word), keeping its start.
        candidates = [(len(t), i) for i, (_, t) in enumerate(draft.items)]
        candidates.append((len(draft.lead), -1))
        progressed = False
        for _, i in sorted(candidates, reverse=True):
            current = draft.lead if i < 0 else draft.items[i][1]
            shorter = _drop_last_clause(current, 0 if i < 0 else 4)
            if shorter is None:
                continue
            if i < 0:
                draft.lead = shorter
            else:
                draft.items[i] = (draft.items[i][0], shorter)
            progressed = True
            break
        if not progressed:
            break
        text = draft.render()
    return cut_words(text, max_chars)
