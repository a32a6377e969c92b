"""The main job, step by step: generate -> hear the song -> cut -> render -> upscale -> export.

Each step reads what the previous one wrote in the project folder, so any step can run
on its own (`dreamcut edit`, `dreamcut render`, ...) and a crash loses at most the step
in progress. This module only sequences library calls and chooses file names; every
decision lives in the modules it calls (planner, orchestrator, renderer, exporters).

The steps live by concept: `selection` (which take stands for a shot), `cut` (the song, the
takes' analyses, the edit), `finish` (render and export), `deliverables` (release versions);
this package's names are theirs, so `dreamcut.pipeline.render` etc. stay where callers look.
"""
from __future__ import annotations

from dreamcut.backends.base import Progress
from dreamcut.pipeline.cut import (EditSource, analyse_song, analyse_takes, beat_effects, check_against_song,
                                   conformed_path, current_edit, cut_path, load_edit, make_edit, planned_cuts,
                                   speed_ramps)
from dreamcut.pipeline.deliverables import deliver, deliver_dir
from dreamcut.pipeline.finish import (export, overlay_on, render, render_inputs, render_paths,
                                      write_song_picture)
from dreamcut.pipeline.selection import current_prompts, is_stale, ranked_takes, selected_takes, take_rank
from dreamcut.project import Project

__all__ = ["EditSource", "Progress", "analyse_song", "analyse_takes", "beat_effects", "check", "check_against_song",
           "conformed_path", "current_edit", "current_prompts", "cut_path", "deliver", "deliver_dir", "export",
           "generate", "is_stale", "load_edit", "make_edit", "overlay_on", "planned_cuts", "ranked_takes", "render",
           "render_inputs", "render_paths", "speed_ramps", "selected_takes", "take_rank", "write_song_picture"]


# -- generate -------------------------------------------------------------------------


def generate(project: Project, *, shots: list[str] | None = None, on_take=None, **orchestrator_options):
    """Make every take the shot list asks for (resuming anything already made)."""
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import Orchestrator

    project.check_writable()
    planned = plan_takes(project.spec, root=str(project.root), shots=shots)
    summary = Orchestrator(project, **orchestrator_options).run(planned, on_progress=on_take)
    project.catalog.backup("after-generate")  # `dreamcut catalog restore` puts it back
    return summary


# -- the check ------------------------------------------------------------------------


def check(project: Project, progress: Progress | None = None):
    """Everything that refuses a shot list: `generate.validate.validate` plus the song map's checks
    (pins the song has, handle room for transitions). `dreamcut check` prints it; `generate` and
    `make` call it and refuse (`.refuse()`) before any money is spent."""
    from dreamcut.generate.validate import Problem, validate

    result = validate(project)
    heard = analyse_song(project, progress=progress)
    for shot_id, severity, message, fix in check_against_song(project, heard):
        result.problems.append(Problem(shot_id, severity, message, fix))
    return result
