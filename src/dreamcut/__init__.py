"""dreamcut: a studio for music videos made of generated video.

Shot list + song -> takes (generated or imported) -> previews and review ->
an edit cut to the music -> 720p master, 2K upscale -> NLE exports, with a ledger
of every cent and provenance on every output.
"""

__version__ = "0.1.0"

from dreamcut._startup import configure_numba_cache as _configure_numba_cache

_configure_numba_cache()  # before anything imports numba (librosa): see dreamcut/_startup.py
