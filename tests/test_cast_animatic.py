"""The animatic draws each cast member as the same figure in every shot: measured on the decoded
takes, the member's body region has the same colour (and its head the same shape) across shots with
different scenes, and differs from another member's."""

from __future__ import annotations

import cv2
import numpy as np

from dreamcut.backends.animatic.cast import body_box, figure_look, place_cast
from dreamcut.backends.base import CastMember, GenerationRequest, run_to_file
from dreamcut.backends.registry import load_backend
from dreamcut.media import read_frames

W, H, FPS = 320, 180, 12


def take(tmp_path, name: str, prompt: str, cast: tuple[str, ...], seed: int) -> list[tuple[float, np.ndarray]]:
    req = GenerationRequest(shot_id=name, prompt=prompt, seconds=1.0, width=W, height=H, fps=FPS, seed=seed,
                            cast=tuple(CastMember(n, f"{n} in a coat") for n in cast))
    run_to_file(load_backend("animatic"), req, tmp_path / f"{name}.mp4", poll_interval=0)
    return list(read_frames(tmp_path / f"{name}.mp4"))


def body_stats(frames, names: tuple[str, ...], member: str) -> np.ndarray:
    """Mean RGB of the member's body region over the take's frames (the region follows the bob)."""
    placed = {p.name: p for p in place_cast(list(names), W, H)}[member]
    means = []
    for t, f in frames:
        x0, y0, x1, y1 = body_box(placed, t)
        means.append(f[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0))
    return np.mean(means, axis=0)


def head_mask(frame: np.ndarray, names, member: str, t: float) -> np.ndarray:
    """Pixels near the member's colour in a box around its head (its shape, as a 0/1 mask)."""
    p = {q.name: q for q in place_cast(list(names), W, H)}[member]
    x0, y0, x1, _ = body_box(p, t)
    r = int(p.height * 0.13)
    top = max(0, y0 - 3 * r)
    box = frame[top:y0, int(p.x) - 2 * r:int(p.x) + 2 * r].astype(np.int32)
    return (np.abs(box - np.asarray(p.look.colour)).sum(axis=2) < 60).astype(np.float32)


def test_the_same_member_looks_the_same_across_shots_and_unlike_another(tmp_path):
    night = take(tmp_path, "night", "a rainy street at night, neon signs", ("mia", "leo"), 1)
    beach = take(tmp_path, "beach", "a wide beach at noon, bright sun, turquoise sea", ("mia",), 2)
    room = take(tmp_path, "room", "a 1980s classroom, green chalkboard, morning light", ("leo", "mia"), 3)
    mia = [body_stats(night, ("mia", "leo"), "mia"), body_stats(beach, ("mia",), "mia"),
           body_stats(room, ("leo", "mia"), "mia")]
    leo = [body_stats(night, ("mia", "leo"), "leo"), body_stats(room, ("leo", "mia"), "leo")]
    want_mia, want_leo = np.asarray(figure_look("mia").colour), np.asarray(figure_look("leo").colour)
    for m in mia:  # the member's colour, whatever the scene's grade (H.264 moves it a few levels)
        assert np.abs(m - want_mia).max() < 8, (m, want_mia)
    for lv in leo:
        assert np.abs(lv - want_leo).max() < 8, (lv, want_leo)
    spread = max(np.abs(a - b).max() for a in mia for b in mia)
    apart = min(np.abs(a - b).max() for a in mia for b in leo)
    print(f"spread {spread:.1f}, apart {apart:.1f}")
    assert spread < 10 and apart > 40, (spread, apart)
    # the head's shape: the same mask in two shots, another mask for another shape
    a = head_mask(night[6][1], ("mia", "leo"), "mia", night[6][0])
    b = head_mask(room[6][1], ("leo", "mia"), "mia", room[6][0])
    assert a.shape == b.shape and np.abs(a - b).mean() < 0.08 and a.mean() > 0.1


def test_looks_come_from_the_name_alone():
    assert figure_look("mia") == figure_look(" Mia ")
    looks = {n: figure_look(n) for n in ("mia", "leo", "ana", "tom", "lighthouse", "car")}
    assert len({lk.colour for lk in looks.values()}) == len(looks)
    assert len({lk.shape for lk in looks.values()}) > 1


def test_a_take_without_a_cast_is_drawn_as_before(tmp_path):
    """No cast, no figures: the frames are byte for byte those of a request without the field."""
    req = GenerationRequest(shot_id="x", prompt="a corridor", seconds=0.5, width=W, height=H, fps=FPS, seed=4)
    from dreamcut.backends.animatic.frames import render_frames

    with_cast = list(render_frames(GenerationRequest(**{**req.__dict__, "cast": (CastMember("mia"),)})))
    plain = list(render_frames(req))
    assert all(np.array_equal(a, b) for a, b in zip(plain, list(render_frames(req))))
    assert any(not np.array_equal(a, b) for a, b in zip(plain, with_cast))
    assert cv2 is not None


def test_generate_from_the_shot_list_draws_the_named_members(tmp_path):
    """The whole path: `cast:` in the shot list -> planned requests -> `dreamcut generate` -> the
    animatic takes show mia in both shots that name her, and leo only where he is named."""
    import yaml

    from conftest import run_cli, write_song

    root = tmp_path / "p"
    root.mkdir()
    write_song(root / "song.wav", 3.0, rate=22050, channels=1)
    spec = {"title": "Cast", "song": "song.wav", "fps": FPS, "takes_per_shot": 1, "take_seconds": 2.0,
            "caption": False, "render": {"master": f"{W}x{H}", "resolution": f"{W}x{H}"},
            "cast": [{"name": "mia", "description": "a woman in a red coat"},
                     {"name": "leo", "description": "a tall man"}],
            "shots": [{"id": "street", "prompt": "a rainy street at night", "cast": ["mia", "leo"]},
                      {"id": "beach", "prompt": "a beach at noon", "cast": ["mia"]}]}
    (root / "dreamcut.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run_cli("--project", str(root), "generate", check=True)
    street = list(read_frames(next((root / "takes" / "street").glob("*.mp4"))))
    beach = list(read_frames(next((root / "takes" / "beach").glob("*.mp4"))))
    mia_street = body_stats(street, ("mia", "leo"), "mia")
    mia_beach = body_stats(beach, ("mia",), "mia")
    leo_street = body_stats(street, ("mia", "leo"), "leo")
    assert np.abs(mia_street - mia_beach).max() < 10, (mia_street, mia_beach)
    assert np.abs(mia_street - leo_street).max() > 40
    # where leo would stand in a two-member shot, the beach shows no leo
    assert np.abs(body_stats(beach, ("mia", "leo"), "leo") - leo_street).max() > 40


def test_a_place_and_an_object_are_drawn_apart_from_a_person(tmp_path):
    """kind: place stands as a tower, kind: object as a box; each keeps its name's colour."""
    from dreamcut.backends.animatic.frames import render_frames

    members = (CastMember("mia"), CastMember("lighthouse", kind="place"), CastMember("red_car", kind="object"))
    req = GenerationRequest(shot_id="k", prompt="a cliff at dusk", seconds=0.25, width=W, height=H, fps=FPS, seed=5,
                            cast=members)
    frame = next(iter(render_frames(req)))
    placed = place_cast([m.name for m in members], W, H, [m.kind for m in members])
    heights = {}
    for p in placed:
        x0, y0, x1, y1 = body_box(p, 0.0)
        assert np.abs(frame[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0) - np.asarray(p.look.colour)).max() < 3, p.name
        column = np.abs(frame[:, int(p.x)].astype(int) - np.asarray(p.look.colour)).sum(axis=1) < 30
        heights[p.name] = int(column.sum())  # rows of the member's colour down its middle
    assert heights["lighthouse"] > heights["mia"] > heights["red_car"], heights
