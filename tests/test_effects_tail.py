"""The tail of an effect's ease that would move the picture by less than STILL_MOVE is left plain.

Pure checks of `render.effects.frame_looks`: the peak and the onset frame are what they were,
only the trailing frames whose farthest point moves less than STILL_MOVE of the width go, and
never a frame inside a run of moved frames.
"""

from __future__ import annotations

from dreamcut.render import effects as fx

SIZE = (1280, 720)
FPS = 24


def _move(look: fx.Look) -> float:
    return fx._largest_move(SIZE, look.scaled, look.x, look.y)


def test_a_pulse_keeps_its_peak_and_drops_only_the_unseen_tail():
    looks = fx.frame_looks([fx.Cue("pulse", 10, fx.PULSE_FRAMES, 0.6, 10 / FPS)], FPS, SIZE)
    frames = sorted(looks)
    assert frames[0] == 10                                              # starts on its onset frame
    assert looks[10].scaled == (2 * int(1280 * (1 + 0.6 * fx.PULSE_ZOOM) / 2), 2 * int(720 * (1 + 0.6 * fx.PULSE_ZOOM) / 2))
    assert frames == list(range(10, 10 + len(frames)))                 # no holes
    assert all(_move(looks[k]) >= fx.STILL_MOVE * SIZE[0] for k in frames)
    # the next frame of the ease exists (zoom above the 2-pixel grid) but would move < STILL_MOVE: plain
    j = len(frames)
    z = 1 + 0.6 * fx.PULSE_ZOOM * (1 - j / fx.PULSE_FRAMES) ** 2
    sw, sh = 2 * int(1280 * z / 2), 2 * int(720 * z / 2)
    assert sw > 1280 and fx._largest_move(SIZE, (sw, sh), (sw - 1280) // 2, (sh - 720) // 2) < fx.STILL_MOVE * 1280
    assert 10 + j not in looks


def test_a_shake_run_has_no_plain_frame_inside_and_flashes_keep_their_frames():
    cues = [fx.Cue("shake", 40, fx.SHAKE_FRAMES, 0.5, 40 / FPS), fx.Cue("flash", 40, fx.FLASH_FRAMES, 0.5, 40 / FPS),
            fx.Cue("pulse", 70, fx.PULSE_FRAMES, 1.0, 70 / FPS), fx.Cue("shake", 70, fx.SHAKE_FRAMES, 1.0, 70 / FPS)]
    looks = fx.frame_looks(cues, FPS, SIZE)
    for start in (40, 70):
        moved = sorted(k for k, lk in looks.items() if start <= k < start + 6 and lk.scaled != SIZE)
        assert moved[0] == start and moved == list(range(start, start + len(moved)))
        assert _move(looks[moved[-1]]) >= fx.STILL_MOVE * SIZE[0]
    # a flash is brightness only: every frame of it above one level stays
    assert [k for k in range(40, 40 + fx.FLASH_FRAMES) if looks.get(k) and looks[k].brightness] == [40, 41, 42, 43]
