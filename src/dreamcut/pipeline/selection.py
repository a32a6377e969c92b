"""Which take stands for each shot: the director's pick, else the best-ranked current take.

A take made for an earlier prompt of its shot is stale: never chosen on its own, said when it
is the director's pick.
"""

from __future__ import annotations


from dreamcut.catalog import Take
from dreamcut.project import Project


# -- selection ------------------------------------------------------------------------


def current_prompts(project: Project) -> dict[str, set[str]]:
    """The prompts the shot list asks for now, per shot (what a take made today would be sent)."""
    from dreamcut.generate.batch import plan_takes

    out: dict[str, set[str]] = {}
    for p in plan_takes(project.spec, root=str(project.root)):
        out.setdefault(p.shot_id, set()).add(p.request.prompt)
    return out


def is_stale(take: Take, current: dict[str, set[str]]) -> bool:
    """A generated take whose prompt is not one the shot list asks for now. Imported
    takes (no prompt of ours) are never stale."""
    return take.source == "generated" and bool(take.prompt) and take.prompt not in current.get(take.shot_id, set())


def selected_takes(project: Project, notes: list[str] | None = None) -> dict[str, Take]:
    """The take each shot uses: the director's selection, else the best-rated, else the
    best-scored, else the first made. Rejected takes are never chosen by default, and a
    take made from an older prompt only when the shot has no take from its current one
    (said in `notes`); a director's explicit selection is kept either way."""
    catalog = project.catalog
    chosen: dict[str, Take] = {}
    explicit = catalog.selections()
    current = current_prompts(project)
    for shot in project.spec.shots:
        takes = catalog.takes(shot.id)
        if not takes:
            continue
        by_id = {t.id: t for t in takes}
        if shot.id in explicit and explicit[shot.id]["take_id"] in by_id:
            chosen[shot.id] = by_id[explicit[shot.id]["take_id"]]
            continue
        reviews = {t.id: catalog.review(t.id) for t in takes}
        candidates = [t for t in takes if reviews[t.id]["status"] != "rejected"] or takes
        fresh = [t for t in candidates if not is_stale(t, current)]
        stale_only = not fresh
        candidates = fresh or candidates
        selected = [t for t in candidates if reviews[t.id]["status"] == "selected"]
        pool = selected or candidates

        chosen[shot.id] = sorted(pool, key=lambda t: take_rank(t, reviews[t.id]))[0]
        if stale_only and notes is not None:
            notes.append(f"{shot.id}: stale take {chosen[shot.id].id} used: it was made from an older prompt "
                         "(run `dreamcut generate` for takes of the current one, or select this take to keep it)")
    return chosen


def take_rank(take: Take, review: dict) -> tuple:
    """How takes of a shot rank, best first: rating, then score, then the first made."""
    rating = review["rating"] or 0
    score = take.score if take.score is not None else -1.0
    return (-rating, -score, take.created_at, take.id)


def ranked_takes(project: Project, shot_id: str) -> list[Take]:
    """A shot's takes best first (`take_rank`), rejected ones last: what a swap offers."""
    catalog = project.catalog
    takes = catalog.takes(shot_id)
    reviews = {t.id: catalog.review(t.id) for t in takes}
    return sorted(takes, key=lambda t: (reviews[t.id]["status"] == "rejected", take_rank(t, reviews[t.id])))
