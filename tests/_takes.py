"""Synthetic takes for tests: real H.264 files made with media.FrameWriter, with defects
injected at known frames (a frozen stretch, a spliced-in hard cut, flashes, a motion spike)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import conftest

from dreamcut.media import FrameWriter


def texture(seed: int, w: int, h: int) -> np.ndarray:
    """A colourful, detailed picture larger than the frame (so it can pan)."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, (h + 120, w + 240, 3), dtype=np.uint8)
    big = cv2.GaussianBlur(big, (0, 0), 3)
    big = cv2.normalize(big, None, 20, 235, cv2.NORM_MINMAX)
    # a few hard-edged shapes so the picture has real edges (sharpness)
    for k in range(12):
        x, y = int(rng.integers(0, w + 200)), int(rng.integers(0, h + 100))
        color = tuple(int(c) for c in rng.integers(30, 230, 3))
        cv2.rectangle(big, (x, y), (x + int(rng.integers(10, 50)), y + int(rng.integers(10, 40))), color, -1)
    return big


def clean_frames(n: int, w: int = 320, h: int = 180, seed: int = 1, speed: float = 1.0) -> list[np.ndarray]:
    tex = texture(seed, w, h)
    frames = []
    for i in range(n):
        x = int(round(60 + speed * i)) % 200
        y = int(round(40 + 10 * np.sin(i / 15)))
        frames.append(np.ascontiguousarray(tex[y:y + h, x:x + w]))
    return frames


def write_take(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    h, w = frames[0].shape[:2]
    with FrameWriter(path, w, h, fps) as wr:
        for f in frames:
            wr.write(f)
    return path


def inject_frozen(frames, start: int, count: int):
    out = list(frames)
    for i in range(start + 1, start + 1 + count):
        out[i] = out[start]
    return out


def inject_cut(frames, at: int, seed: int = 99):
    other = clean_frames(len(frames), frames[0].shape[1], frames[0].shape[0], seed=seed)
    return list(frames[:at]) + other[at:]


def inject_flash(frames, at: int, length: int = 2, gain: float = 120.0):
    out = list(frames)
    for i in range(at, at + length):
        out[i] = np.clip(out[i].astype(np.int16) + int(gain), 0, 255).astype(np.uint8)
    return out


def inject_jolt(frames, at: int, length: int = 2, shift: int = 28):
    """A camera jolt: the picture jumps sideways for `length` frames and comes back."""
    out = list(frames)
    for i in range(at, at + length):
        out[i] = np.ascontiguousarray(np.roll(out[i], shift, axis=1))
    return out


# -- small real projects for the board, previews and search tests ---------------------------------

SHOT_PROMPTS = [
    "A long zoom through a 1980s high-school corridor into a classroom",
    "Teenagers running onto a football field at dusk, stadium lights flaring",
    "A bedroom wall covered in posters, slow push in, morning light",
    "A car driving along a coastal road at night, headlights on wet asphalt",
    "Confetti falling in an empty gym after the prom, {blue|pink} light",
]


def write_song(path: Path, seconds: float = 6.0) -> Path:
    """The review and ranking tests' song: conftest's `write_song` swell, 22.05 kHz mono."""
    return conftest.write_song(path, seconds, rate=22050, channels=1, kind="swell")


def add_takes(root: Path, takes: dict[str, list[np.ndarray]], fps: int = 24) -> dict[str, Path]:
    """Write each take's frames (`takes`: take id -> frames; the shot is the id before its first '-')
    into the project at `root` and register them in its catalog, in one transaction."""
    from dreamcut.catalog import Take
    from dreamcut.project import Project

    project = Project.open(root)
    paths: dict[str, Path] = {}
    with project.catalog.transaction():
        for i, (name, frames) in enumerate(takes.items()):
            shot = name.split("-")[0]
            project.take_path(shot, name).parent.mkdir(parents=True, exist_ok=True)
            paths[name] = write_take(project.take_path(shot, name), frames, fps)
            h, w = frames[0].shape[:2]
            project.catalog.add_take(Take(id=name, shot_id=shot, path=project.rel(paths[name]),
                                          seconds=len(frames) / fps, width=w, height=h, fps=fps, backend="animatic",
                                          seed=i))
    project.catalog.close()
    return paths


def make_project(root: Path, *, shots: int = 3, takes_per_shot: int = 3, media: int | None = None,
                 take_seconds: float = 2.0, size: tuple[int, int] = (256, 144), extra_yaml: str = "") -> Path:
    """A project folder with a song, a shot list and real mp4 takes registered in the catalog.

    `media` limits how many distinct mp4 files are written (rows then share them round-robin),
    which is how a 700-take production is made cheaply."""
    from dreamcut.catalog import Take
    from dreamcut.media import file_sha256
    from dreamcut.project import Project

    spec = {"shots": [{"id": f"s{i + 1:02d}", "prompt": SHOT_PROMPTS[i % len(SHOT_PROMPTS)] + (
        f" (part {i + 1})" if i >= len(SHOT_PROMPTS) else "")} for i in range(shots)]}
    conftest.make_project(root, spec["shots"], song_seconds=6.0, song_kind="swell", song_rate=22050, song_channels=1,
                          extra_yaml=extra_yaml, title="Test Video", take_seconds=take_seconds, takes_per_shot=2,
                          render={"master": f"{size[0]}x{size[1]}", "resolution": f"{size[0]}x{size[1]}"})
    project = Project.open(root)
    cat = project.catalog  # before the take files: a catalog missing beside takes is refused as lost
    total = shots * takes_per_shot
    n_files = min(total, media or total)
    files: list[tuple[str, str]] = []
    w, h = size
    n_frames = int(take_seconds * 24)
    for k in range(n_files):
        shot = f"s{k % shots + 1:02d}"
        path = root / "takes" / shot / f"media{k:03d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = clean_frames(n_frames, w, h, seed=k + 3, speed=1.0 + (k % 3))
        if k % 4 == 1:
            frames = inject_frozen(frames, n_frames // 3, max(8, n_frames // 4))
        write_take(path, frames)
        files.append((project.rel(path), file_sha256(path)))
    with cat.transaction():
        for i in range(total):
            shot = f"s{i % shots + 1:02d}"
            rel, digest = files[i % n_files]
            cat.add_take(Take(id=f"{shot}-t{i // shots + 1:03d}", shot_id=shot, path=rel, seconds=take_seconds,
                              width=w, height=h, fps=24.0, backend="animatic", variant=i // shots, seed=1000 + i,
                              prompt=spec["shots"][i % shots]["prompt"], cost_usd=round(0.05 * (i % 7), 2),
                              created_at=1_700_000_000 + i))
    cat.close()
    return root


# -- a deterministic local backend for tests that must not wait for another module ----------------

from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend  # noqa: E402


class PatternBackend(LocalBackend):
    """A real LocalBackend (renders through FrameWriter) whose pixels are a pure function of the
    request's seed and prompt: frame i of a take is frame i of its preview. Preview mode renders
    only `preview_frames` frames, as the backend protocol asks."""

    def __init__(self, name: str = "animatic", price_per_second: float = 0.0, local: bool = True):
        super().__init__(name=name)
        self._price = price_per_second
        self._local = local

    def capabilities(self) -> Capabilities:
        return Capabilities(local=self._local, price_per_second=self._price, price_source="test table",
                            preview_mode="frames", min_seconds=1.0)

    def price(self, request: GenerationRequest) -> float:
        from dreamcut.generate.cost import request_price

        return request_price(self.capabilities(), request)

    def render(self, request: GenerationRequest, dest: Path, progress=None) -> None:
        import zlib

        seed = (request.seed ^ zlib.crc32(request.prompt.encode())) & 0x7FFFFFFF
        frames = clean_frames(request.frame_count, request.width, request.height, seed=seed % 100000, speed=2.0)
        write_take(dest, frames, request.fps)
