"""Everything that can refuse a shot list, in one function: `dreamcut check` prints it, and
`dreamcut generate` runs the very same function before any money is spent.

One fact, one home: a problem `check` reports (a segment that overruns its take, a reference
that is not an image, a length no backend makes, a song too long for the shots, the budget) is
a problem `generate` refuses with exit 2 and no request sent. Song-aware checks of a shot list
belong here too, so both commands get them.

Reads only: never writes a file, never calls a provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dreamcut.errors import BadInput


@dataclass
class Problem:
    shot_id: str  # a shot id, "project", or "*" for the whole shot list
    severity: str  # error | warning
    message: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.severity}: shot {self.shot_id}: {self.message}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass
class Validation:
    """What `check` says about a project: its plan, its estimate and every problem found."""

    song_seconds: float
    planned: list
    estimate: object  # dreamcut.generate.cost.Estimate
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def refuse(self) -> None:
        """Raise the one-line BadInput `check` ends with, if anything refuses the shot list."""
        est = self.estimate
        if est.over_budget:
            raise BadInput(f"the estimate ${est.usd:,.2f} exceeds budget_usd ${est.budget_usd:,.2f}",
                           where="dreamcut.yaml", fix="raise budget_usd, or fewer takes / seconds")
        errors = self.errors
        if len(errors) == 1:
            p = errors[0]
            raise BadInput(f"shot {p.shot_id}: {p.message}" if p.shot_id not in ("*", "project") else p.message,
                           where="dreamcut.yaml", fix=p.fix or "fix it, then run `dreamcut check` again")
        if errors:
            raise BadInput(f"{len(errors)} problem(s) in the shot list, the first: shot {errors[0].shot_id}: "
                           f"{errors[0].message}", where="dreamcut.yaml",
                           fix="run `dreamcut check` to list them all; fix them, then run it again")


def validate(project) -> Validation:
    """Every check of the shot list against its song, its references, its backends and its budget."""
    from dreamcut.backends.registry import load_backend
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.cost import chain_solves, estimate, override_gaps, take_notes
    from dreamcut.media import probe
    from dreamcut.prompts import check_prompts

    spec = project.spec
    song = probe(project.song_path)
    if song.audio is None:
        raise BadInput("the song has no audio stream", where=spec.song, fix="point `song:` at an audio file")
    problems: list[Problem] = [Problem(p.shot_id, p.severity, p.message, p.fix) for p in check_prompts(spec)]
    for shot in spec.shots:
        for ref in shot.refs:
            message = ref_problem(project.root, ref)
            if message:
                problems.append(Problem(shot.id, "error", message,
                                        "put a PNG, JPEG or WebP picture in refs/ and name it in the shot's refs:"))
    planned = plan_takes(spec, root=str(project.root))
    backends: dict = {}
    for p in planned:
        name = str(p.backend)
        if name not in backends:
            backends[name] = load_backend(p.backend)
        for message in backends[name].problems(p.request):
            if not chain_solves(message, backends[name], p.request):
                problems.append(Problem(p.shot_id, "error", message,
                                        "change the shot's seconds/size/refs or the backend"))
        for note in take_notes(backends[name], p.request):  # a degraded decision is said, never silent
            problems.append(Problem(p.shot_id, "warning", note))
        for gap in override_gaps(name, backends[name], p.request, spec.prices.get(name)):
            if not any(pr.message == gap for pr in problems):  # said once, at the first shot it reaches
                problems.append(Problem(p.shot_id, "warning", gap))
    est = estimate(planned, lambda ref: backends[str(ref)], prices=spec.prices,
                   budget_usd=spec.budget_usd)
    total_take_seconds = sum(spec.shot_seconds(s) for s in spec.shots)
    if total_take_seconds < song.duration / 1.25:
        problems.append(Problem("*", "error", f"the shots' takes add up to {total_take_seconds:.0f} s, too short to "
                                f"cover the {song.duration:.0f} s song", "add shots or raise take_seconds"))
    seen: set = set()
    distinct = []
    for pr in problems:
        if (pr.shot_id, pr.message) not in seen:
            seen.add((pr.shot_id, pr.message))
            distinct.append(pr)
    return Validation(song_seconds=song.duration, planned=planned, estimate=est, problems=distinct)


def ref_problem(root: Path, ref: str) -> str | None:
    """Why a shot's reference cannot be used (missing, unreadable, not a picture), or None."""
    if ref.startswith(("http://", "https://")):
        return None
    path = Path(root) / ref
    name = Path(ref).name[:60]
    try:
        exists = path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name longer than the filesystem allows
        return f"reference {ref[:60]!r} is not a usable file name"
    if not exists:
        return f"reference image {ref[:60]} does not exist"
    try:
        from PIL import Image, UnidentifiedImageError

        with Image.open(path) as im:
            if im.format not in ("PNG", "JPEG", "WEBP"):
                return f"reference {name} is a {im.format} file, not a PNG, JPEG or WebP picture"
            im.verify()
    except (UnidentifiedImageError, SyntaxError, ValueError):
        return f"reference {name} is not a readable picture (PNG, JPEG or WebP)"
    except OSError as e:
        if e.errno is None:  # Pillow's "truncated file", "cannot identify": the bytes are wrong
            return f"reference {name} is not a readable picture (PNG, JPEG or WebP)"
        return f"reference {name} cannot be read ({e.strerror})"
    except Image.DecompressionBombError:
        return f"reference {name} is too large a picture"
    return None
