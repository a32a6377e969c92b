"""A project folder: where everything lives, and the spec + catalog opened together.

    my-video/
      dreamcut.yaml              the shot list
      song.wav                   the song (any format ffmpeg reads)
      refs/                      reference images
      .dreamcut/catalog.sqlite   shots, takes, jobs, ledger, reviews
      .dreamcut/cache/           analysis caches keyed by content hash
      takes/<shot>/<take>.mp4    (+ <take>.json)
      previews/<shot>/...        MiniClips and contact sheets
      edits/cut.otio
      renders/final_720p.mp4, renders/final_2k.mp4
      exports/cut.otio, exports/premiere.xml, exports/cut.edl
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from dreamcut.catalog import Catalog
from dreamcut.errors import BadInput, disk_error
from dreamcut.spec import SPEC_FILE, ProjectSpec, load_spec


class Project:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    @classmethod
    def open(cls, root: Path | None = None) -> "Project":
        """Open an existing project (validates the spec eagerly so errors come first)."""
        project = cls(Path(root) if root else Path.cwd())
        if not project.root.is_dir():
            raise BadInput("project folder does not exist", where=str(root), fix="run `dreamcut init DIR` first")
        _ = project.spec
        return project

    # -- paths -----------------------------------------------------------------------
    @property
    def spec_path(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / ".dreamcut"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def keyframes_dir(self) -> Path:
        """Cast keyframes, `<take job key>.<ext>`: the images takes are animated from."""
        return self.state_dir / "keyframes"

    @property
    def catalog_path(self) -> Path:
        return self.state_dir / "catalog.sqlite"

    @property
    def takes_dir(self) -> Path:
        return self.root / "takes"

    @property
    def previews_dir(self) -> Path:
        return self.root / "previews"

    @property
    def edits_dir(self) -> Path:
        return self.root / "edits"

    @property
    def renders_dir(self) -> Path:
        return self.root / "renders"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def song_path(self) -> Path:
        return self.root / self.spec.song

    def take_path(self, shot_id: str, take_id: str, kind: str = "take") -> Path:
        """Where a take's mp4 lives: takes/<shot>/, or previews/<shot>/ for MiniClips previews."""
        folder = self.previews_dir if kind == "preview" else self.takes_dir
        return folder / shot_id / f"{take_id}.mp4"

    def rel(self, path: Path) -> str:
        """Path relative to the project root, as stored in the catalog and exports."""
        return os.path.relpath(Path(path).resolve(), self.root)

    def abs(self, rel: str) -> Path:
        return (self.root / rel).resolve()

    def inside(self, path: Path) -> bool:
        """True if `path` (after resolving links) is inside the project folder."""
        try:
            Path(path).resolve().relative_to(self.root)
            return True
        except ValueError:
            return False

    # -- spec and catalog -------------------------------------------------------------
    @cached_property
    def spec(self) -> ProjectSpec:
        return load_spec(self.spec_path)

    def set_shot_place(self, shot_id: str, place: dict | None) -> None:
        """Write (or remove, with None) a shot's `place:` pin in the spec file (`set_shot_field`)."""
        self.set_shot_field(shot_id, "place", place)

    def set_shot_field(self, shot_id: str, key: str, value: dict | None) -> None:
        """Write (or remove, with None) one field of a shot (`place`, `transition`) in the spec file,
        keeping the director's comments and layout; the new spec is validated before it replaces
        the file (atomically)."""
        import io

        from ruamel.yaml import YAML

        from dreamcut.media import write_text_atomic

        yaml = YAML()
        yaml.preserve_quotes = True
        data = yaml.load(self.spec_path.read_text())
        shots = [s for s in data.get("shots") or [] if str(s.get("id")) == shot_id]
        if not shots:
            raise BadInput(f"no shot {shot_id!r}", where=self.spec_path.name, fix="use a shot id from the spec")
        if value is None:
            shots[0].pop(key, None)
        else:
            shots[0][key] = dict(value)
        out = io.StringIO()
        yaml.dump(data, out)
        text = out.getvalue()
        import yaml as pyyaml

        ProjectSpec.model_validate(pyyaml.safe_load(text))  # never write a spec that does not load
        write_text_atomic(self.spec_path, text)
        self.__dict__.pop("spec", None)  # the next read sees the new pin

    @cached_property
    def catalog(self) -> Catalog:
        self.refuse_lost_catalog()
        catalog = Catalog(self.catalog_path)
        spec = self.spec
        catalog.sync_shots([(s.id, i, s.prompt_text, s.model_dump(mode="json")) for i, s in enumerate(spec.shots)])
        return catalog

    def take_files(self) -> list[Path]:
        """The takes and previews dreamcut made or imported: videos with their sidecar (<take>.json)."""
        out = []
        for folder in (self.takes_dir, self.previews_dir):
            if folder.is_dir():
                out += [p for p in folder.glob("*/*.mp4")
                        if not p.name.startswith(".") and p.with_suffix(".json").is_file()]
        return out

    def refuse_lost_catalog(self) -> None:
        """A missing or empty catalog beside take files is a loss to repair, never a fresh start."""
        path = self.catalog_path
        if path.exists() and path.stat().st_size > 0:
            return
        files = self.take_files()
        if not files:
            return
        from dreamcut.catalog import list_backups

        state = "empty (0 bytes)" if path.exists() else "missing"
        backups = list_backups(path)
        fix = (f"run `dreamcut catalog restore` (newest of {len(backups)} automatic backups), or "
               if backups else "") + "`dreamcut catalog rebuild` (from the takes' sidecars)"
        raise BadInput(f"the catalog is {state} but {len(files)} takes are here; refusing to start an "
                       f"empty one (ledger, reviews and selections would be lost)", where=self.rel(path), fix=fix)

    def lock_for_writing(self, command: str, *, wait: bool = False, on_wait=None) -> None:
        """Become the project's one writer for the rest of this process (see `dreamcut.lock`)."""
        from dreamcut import lock

        try:
            lock.acquire(self.state_dir, command, wait=wait, on_wait=on_wait)
        except OSError as e:
            raise disk_error(e, self.root) from None

    def check_writable(self) -> None:
        """Fail early, before any work, when the project folder cannot be written."""
        probe = self.root / f".dreamcut-write-test.{os.getpid()}"  # per process: two writers never race on it
        try:
            probe.write_bytes(b"x")
            probe.unlink()
        except OSError as e:
            probe.unlink(missing_ok=True)
            raise disk_error(e, self.root) from None
