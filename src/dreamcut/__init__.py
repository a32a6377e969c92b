"""dreamcut: a studio for music videos made of generated video.

Shot list + song -> takes (generated or imported) -> previews and review ->
an edit cut to the music -> 720p master, 2K upscale -> NLE exports, with a ledger
of every cent and provenance on every output.
"""

__version__ = "0.1.0"
