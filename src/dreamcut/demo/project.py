"""The demo shot list, and the commented example `dreamcut init` writes.

`write_demo_project(root)` writes `root/dreamcut.yaml`: an endless zoom through a couple's
life across decades, in long-form prompts (two of them multi-scene takes), for the song
`song.wav` that `dreamcut.demo.song` synthesizes beside it. `init_template()` is the
commented example of every field of a shot list.

This module only writes text files; it never renders, and the song is not its business.
"""

from __future__ import annotations

from pathlib import Path

from dreamcut.media import write_text_atomic
from dreamcut.spec import SPEC_FILE

SONG_FILE = "song.wav"

_HEADER = """\
# dreamcut demo: "Endless Zoom" — a couple's life across four decades, one continuous move.
#
# This file is the shot list, the only file a director writes. Every shot is a long-form
# prompt; several of them carry a scene change INSIDE one take (a zoom from a school
# corridor into a classroom, out onto a football field), the way the prompts of
# "The Hardest Part" (Washed Out, 2024) were written. Run `dreamcut check` to see what
# will be generated and what it costs, `dreamcut styles` for the style presets.
version: 1
title: "Endless Zoom (dreamcut demo)"
song: song.wav            # synthesized by `dreamcut demo`: 4/4, known tempo, beats written beside it
fps: 24
aspect: "16:9"

# Style: a preset (a shipped text block, see `dreamcut styles`) + the global style,
# added to every shot's prompt after the shot's own words.
style_preset: vintage-35mm-1980s
style: "vintage cinematic, film grain"
negative: "text, watermark, logo, distorted faces"   # for backends that take a negative prompt

backend: animatic         # offline previz: free, deterministic, labelled ANIMATIC
budget_usd: 0             # nothing here costs money; a cloud backend would be stopped at this budget
takes_per_shot: {takes}
take_seconds: {take_seconds}
transition: zoom          # every cut is a zoom-through, continuing the endless zoom
caption: true             # burn shot id, take and prompt into animatic frames
{render}
shots:
"""

_FULL_SHOTS = """\
  # 1. A multi-scene take written as a YAML list of segments with times (at: start second
  #    inside the take, seconds: its length). The animatic zooms through from one scene to
  #    the next exactly at 3 s and 5.5 s, so the previz shows where the changes fall.
  - id: corridor
    prompt:
      - at: 0
        seconds: 3
        text: >-
          A continuous zoom down a 1980s high-school corridor, red lockers on both sides,
          fluorescent ceiling lights, teenagers drifting past in slow motion
      - at: 3
        seconds: 2.5
        text: >-
          into a classroom at morning, green chalkboard, sunlight through tall windows,
          a boy and a girl exchanging a look across the desks
      - at: 5.5
        text: >-
          out onto a football field at dusk, orange sky, stadium lights flickering on,
          the two of them walking along the yard lines

  # 2. Times written inside the text: [start-end s] markers.
  - id: bleachers
    prompt: >-
      [0-4s] Two teenagers sit high in the empty bleachers at dusk, sharing headphones,
      golden light on their faces, slow push in
      [4-8s] The stadium lights come on one by one, night falls, stars over the field,
      the camera keeps zooming toward the brightest light

  # 3. Natural phrasing: "then" splits the take into two scenes of equal length.
  - id: first-apartment
    prompt: >-
      Their first apartment in 1986, cardboard boxes, a mattress on the floor, a single
      warm lamp, the couple painting a wall teal and laughing, then the window opens onto
      a rainy city street at night, neon signs reflected in puddles

  # 4. {a|b} alternatives: take 1 gets the first of each group, take 2 the second.
  - id: wedding
    prompt: >-
      A small wedding in a white chapel in 1989, {confetti|rice} in the air, the bride in
      a lace dress, the groom in a borrowed suit, friends cheering, {slow zoom|dolly} toward
      the couple under a bright window
    transition: {kind: dissolve, beats: 2}

  - id: road-trip
    prompt: >-
      A 1990s road trip, an orange station wagon on a desert highway at noon, blue sky,
      the couple singing along to the radio, pan right along the car as it speeds past
      telephone poles

  - id: kitchen
    prompt: >-
      A crowded kitchen in 1995 on a yellow morning, two kids at the breakfast table,
      cereal spilling, the mother laughing, the father flipping pancakes, handheld camera

  - id: backyard
    prompt: >-
      A backyard birthday party at dusk, paper lanterns strung across the garden, kids
      running through a sprinkler, the couple watching from the porch steps, slow zoom

  - id: school-gate
    prompt: >-
      The kids' first day at school in 1998, a red brick school at morning, the couple
      waving from the gate, autumn leaves, the camera zooms through the school door

  - id: empty-nest
    prompt: >-
      The couple alone in a quiet living room in 2008, boxes packed for a child leaving
      for college, blue evening light through the window, the camera slowly orbits them

  - id: anniversary
    prompt: >-
      Their silver anniversary on a beach at dawn, pink sky over a calm sea, the couple
      barefoot in the waves, holding hands, a continuous zoom toward the horizon

  - id: grandchildren
    prompt: >-
      Grandchildren chasing each other through a green garden at noon, the grandparents
      on a bench under a tree, sunflowers, 2015, warm summer light

  - id: porch
    prompt: >-
      An old couple on a wooden porch at night, a blanket over their knees, stars over the
      fields, the porch light glowing, the camera slowly zooms out into the dark
"""

_SHORT_SHOTS = """\
  # A multi-scene take as a YAML list with times: the animatic changes scene at 2.5 s.
  - id: corridor
    prompt:
      - at: 0
        seconds: 2.5
        text: >-
          A continuous zoom down a 1980s high-school corridor, red lockers, fluorescent lights
      - at: 2.5
        text: >-
          out onto a football field at dusk, orange sky, two teenagers on the yard lines

  # Times inside the text.
  - id: wedding
    prompt: >-
      [0-3s] A small wedding in a white chapel in 1989, confetti in the air
      [3-6s] The couple runs out into a green garden at noon, friends cheering

  - id: porch
    prompt: >-
      An old couple on a wooden porch at night, stars over the fields, slow zoom out
"""

_FULL_RENDER = """\
render:
  master: 720p            # generated takes and the first render
  resolution: 2k          # final upscale: 2048x1152 for 16:9
  preset: superfast       # a quick x264 encode for previz; veryfast (default) or slower for delivery
"""

_SHORT_RENDER = """\
render:
  master: "320x180"       # small frames: the short demo is for fast end-to-end tests
  resolution: "640x360"
"""


def demo_spec_text(*, short: bool = False) -> str:
    """The demo shot list as YAML text (comments included)."""
    head = _HEADER.format(takes=1 if short else 2, take_seconds=7 if short else 10,
                          render=_SHORT_RENDER if short else _FULL_RENDER)
    return head + (_SHORT_SHOTS if short else _FULL_SHOTS)


def write_demo_project(root: Path, *, short: bool = False) -> Path:
    """Write `root/dreamcut.yaml` for the demo (the song `song.wav` is written by `demo.song`).

    short=True: 3 shots of 7 s, 320x180 master, for a 15 s test song."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / SPEC_FILE
    write_text_atomic(path, demo_spec_text(short=short))
    return path


def init_template(*, duration: float | None = None, bpm: float | None = None, beats_per_bar: int = 4) -> str:
    """The commented example `dreamcut init DIR` writes: every field of a shot list, explained.

    Given the song's length and tempo (`dreamcut init --song FILE`), the shot list covers
    that song: one shot per 8-bar phrase (4 bars when 8 would be over 16 s), takes long
    enough for the phrase plus a beat of handle on each side.
    """
    if not duration or not bpm:
        return _INIT
    n, seconds, bars = shots_for_song(duration, bpm, beats_per_bar)
    text = _INIT.replace("take_seconds: 8             # length of each take (a shot's `seconds:` overrides)",
                         f"take_seconds: {seconds:g}            # length of each take: a {bars}-bar phrase plus "
                         "handles (a shot's `seconds:` overrides)")
    m, sec = divmod(int(round(duration)), 60)
    text = text.replace("shots:\n", f"""# The song: {m}:{sec:02d} at {bpm:.0f} bpm. Correct what dreamcut hears (see `dreamcut song`)
# and set the pace by replacing `song: song.wav` above with a block:
# song:
#   file: song.wav
#   bpm: {bpm:.1f}              # or a tempo map: tempo: [{{at: 0.52, bpm: 120}}, {{at: 95.0, bpm: 124}}]
#   downbeat: 0.52          # the first downbeat, in seconds
#   meter: {beats_per_bar}                # beats per bar
#   sections: [{{name: intro, start: 0}}, {{name: verse, bar: 9}}, {{name: chorus, bar: 25}}]
#   pacing: auto            # bars per cut: a number, auto (calmer verses, faster choruses), or {{chorus: 2, default: 8}}

# {n} shots, one per {bars}-bar phrase of the song: write what each shows.
shots:
""", 1)
    extra = []
    for i in range(4, n + 1):
        extra.append(f"""  - id: shot-{i:02d}
    prompt: >-
      Shot {i} of {n}, bars {(i - 1) * bars + 1}-{i * bars}: the camera keeps moving forward through the scene
""")
    text = text.rstrip("\n") + "\n\n" + "".join(extra) if extra else text
    return text


def shots_for_song(duration: float, bpm: float, beats_per_bar: int = 4) -> tuple[int, float, int]:
    """(shots, take seconds, bars a shot) that cover a song of `duration` s at `bpm`."""
    import math

    bar = beats_per_bar * 60.0 / bpm
    bars = 8 if 8 * bar <= 16.0 else 4
    phrase = bars * bar
    n = max(3, math.ceil(duration / phrase - 0.25))
    seconds = float(min(60, math.ceil(max(duration / n, phrase) + 2 * 60.0 / bpm)))
    return n, seconds, bars


_INIT = """\
# dreamcut shot list. Every field is shown; the ones commented out are optional.
# Check it with `dreamcut check`; see the style presets with `dreamcut styles`.

version: 1                  # spec format version (dreamcut migrates older files forward)
title: "My music video"
song: song.wav              # the song, in this folder (any format ffmpeg reads)
# To correct what dreamcut hears (see `dreamcut song`) or set the pace, `song:` becomes a block:
# song:
#   file: song.wav
#   bpm: 120                # or a tempo map: tempo: [{at: 0.52, bpm: 120}, {at: 95.0, bpm: 124}]
#   downbeat: 0.52          # the first downbeat, in seconds
#   meter: 4                # beats per bar
#   sections: [{name: intro, start: 0}, {name: verse, bar: 9}, {name: chorus, bar: 25}]
#   pacing: auto            # bars per cut: a number, auto (calmer verses, faster choruses), or {chorus: 2, default: 8}
fps: 24                     # frames per second of takes, edit and render
aspect: "16:9"              # W:H — 16:9, 9:16, 1:1, 2:1 ...

# Style: a preset's text, then `style`, is added to every shot's prompt.
style: "vintage cinematic, film grain"
style_preset: vintage-35mm-1980s     # a shipped preset (`dreamcut styles`) or one of `styles:` below
styles:                              # your own presets: name -> text
  night-drive: "sodium street lights, wet asphalt, reflections, deep blue shadows"
negative: "text, watermark, logo"    # what to avoid, for backends that take a negative prompt

# Which model makes the takes: animatic (offline previz, free) | diffusers:/path/to/model |
# openai-videos:sora-2 | runway:gen4_turbo | luma:ray-2 | veo:veo-3.0-generate-001 | fal:<app> | replicate:<owner/model>
backend: animatic
budget_usd: 0               # generation stops before spending more than this (USD)
takes_per_shot: 2           # candidates per shot (a shot's `takes:` overrides)
take_seconds: 8             # length of each take (a shot's `seconds:` overrides)
transition: cut             # between shots: cut | dissolve | dip | zoom, or {kind: zoom, beats: 2}
caption: true               # burn shot id, take and prompt into animatic frames
prices: {}                  # override USD per second per backend, e.g. {"runway:gen4_turbo": 0.05}
include_prompt_in_credentials: true  # write the prompt into the provenance manifest

render:
  master: 720p              # the first render (720p, 1080p or WxH)
  resolution: 2k            # the final upscale (2k = 2048 wide, 4k, 1080p or WxH)
  codec: h264               # h264 | prores
  upscaler: lanczos         # how the master is upscaled
  # interpolate_fps: 48     # optional frame interpolation of the final
  crf: 18                   # H.264 quality (lower = better, bigger)
  preset: veryfast          # x264 speed: superfast, veryfast, faster, fast, medium, slow (slower = smaller)
  # overlay: true           # song timecode, bar.beat, section and shot in a corner (default: on for animatic)

# Beat-synced motion (off unless given): levels 0..1, scaled by each section's energy.
# pulse = zoom on kicks, flash = exposure flash on snares, shake = on the strongest hits.
# effects:
#   pulse: 0.6
#   flash: 0.3
#   shake: 0
#   sections:               # per section label: intro, verse, chorus, bridge, outro
#     chorus: {shake: 0.5}

# The cast: recurring characters, places and objects (none unless given). A shot names who is in it
# (`cast: [mia]`); each member's description is added to that shot's prompt, and its reference images
# go to each backend the way its API allows (`dreamcut check` says where).
# cast:
#   - name: mia               # one word; shots use it
#     kind: character         # character | place | object
#     description: a young woman in a red raincoat, short black hair
#     refs: [refs/mia.png]    # pictures in the project folder (png, jpg, webp) or https:// URLs

shots:
  # A plain long-form prompt.
  - id: opening             # letters, digits, '-' and '_'
    prompt: >-
      A continuous zoom down a 1980s high-school corridor, red lockers, fluorescent lights,
      teenagers drifting past in slow motion
    # negative: "crowds"    # added to the global negative
    # seconds: 8            # this shot's take length
    # takes: 4              # this shot's number of takes
    # backend: animatic     # this shot's backend
    # style: night-drive    # this shot's style preset (instead of style_preset)
    # refs: [refs/corridor.jpg]   # reference images (image-conditioned backends)
    # source: camera        # clips imported into this shot: camera | generated | unknown
    # place: {section: chorus}    # pin the start: {section: chorus#2} | {bar: 17} | {beat: 65} | {second: 42.5}
    # transition: {kind: dissolve, beats: 2}   # into the next shot
    # reframe: left             # `dreamcut deliver`'s 9:16 and 1:1 crop here: left | center | right | {x: 0.3}
    # cast: [mia]           # who is in this shot (names from `cast:`)
    # cast_keyframe: true   # runway/luma: first an image from all the cast's pictures, then the video (paid)

  # Several scenes in ONE take, with times inside the text; {a|b} makes numbered variants.
  - id: classroom-to-field
    prompt: >-
      [0-4s] Into a classroom at morning, {green|black} chalkboard, sunlight through tall windows
      [4-8s] Out onto a football field at dusk, stadium lights flickering on

  # Several scenes as a list: `at` = start second inside the take, `seconds` = length.
  # Untimed segments share what is left; natural phrasing ("..., then ...") works too.
  - id: porch
    prompt:
      - at: 0
        seconds: 5
        text: An old couple on a wooden porch at night, stars over the fields
      - text: The porch light fades, then the camera zooms out into the dark
"""
