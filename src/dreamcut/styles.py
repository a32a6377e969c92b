"""Style presets shipped as data: short, documented text blocks a shot list can name.

`style_preset: vintage-35mm-1980s` in a spec (or `style:` on a shot) prepends the
preset's text to the global style. Projects define their own under `styles:`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StylePreset:
    name: str
    text: str  # what is added to every prompt
    about: str  # one line for `dreamcut styles`


PRESETS: dict[str, StylePreset] = {
    p.name: p
    for p in [
        StylePreset("vintage-35mm-1980s",
                    "shot on 35mm film in the 1980s, warm faded colour, soft halation, visible film grain, "
                    "slight gate weave, continuous slow zoom",
                    "Warm, grainy 1980s 35mm look with a continuous slow zoom."),
        StylePreset("dreamlike-surreal",
                    "dreamlike and surreal, soft focus edges, drifting camera, impossible continuous transitions, "
                    "pastel haze",
                    "Soft, drifting, surreal; scenes melt into each other."),
        StylePreset("documentary-handheld",
                    "handheld documentary camera, natural available light, candid moments, slight shake, "
                    "16mm texture",
                    "Candid handheld documentary feel, natural light."),
    ]
}
