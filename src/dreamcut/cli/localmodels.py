"""`dreamcut local-model PATH`: what a local diffusers model folder is and what it can make.

Reads `model_index.json` and the component configs only: no weights are loaded, torch is
not imported, nothing is downloaded. The same checks run when a spec names
`backend: diffusers:PATH`, so a folder that passes here loads there.
"""

from __future__ import annotations

import typer
from rich.table import Table

from dreamcut.cli.app import app, console


@app.command("local-model")
def local_model(
    model: str = typer.Argument(..., help="A diffusers model folder, or a repo id already in the local Hugging Face cache."),
) -> None:
    """Inspect a local LTX-Video / Wan / CogVideoX folder: family, what it can condition on, frame rules."""
    from dreamcut.backends.diffusers_local import DiffusersBackend

    backend = DiffusersBackend(model=model)  # checks the folder; loads nothing
    folder, label = backend.folder, backend.folder.label
    fam = folder.family
    caps = backend.capabilities()
    fps = f"{fam.native_fps} fps (takes are retimed)" if fam.native_fps else "the take's fps"
    can = []
    if folder.kind == "t2v":
        can.append("text")
    if caps.image_conditioning:
        can.append("a reference image" + (" (required)" if folder.kind == "i2v" else ""))
    if backend._takes_last_frame():
        can.append("a second reference as the last frame")
    table = Table(title=f"diffusers:{label}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    rows = [
        ("pipeline", folder.class_name),
        ("family", fam.name),
        ("makes video from", ", ".join(can)),
        ("frames per call", f"{fam.temporal_factor}k+1, up to {fam.comfortable_frames} "
                            f"({'longer takes are chained' if caps.extend else 'no chaining: one call per take'})"),
        ("generates at", fps),
        ("sizes", f"multiples of {fam.size_multiple} (others are rounded, with a note); "
                  f"trained at {fam.native_size[0]}x{fam.native_size[1]}"),
        ("defaults", f"{fam.steps} steps, guidance {fam.guidance:g}, {fam.max_sequence_length} text tokens"),
        ("components", ", ".join(k for k, v in folder.index.items()
                                 if not k.startswith("_") and isinstance(v, list) and v[0] is not None)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
