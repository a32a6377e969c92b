"""What every part of the shot list shares: the strict model base, the format version and file name,
and the generous bounds that catch typos and pasted junk."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

SPEC_VERSION = 1
SPEC_FILE = "dreamcut.yaml"

# Generous ceilings that catch typos and pasted junk (a 100 kB prompt), not taste.
MAX_PROMPT_CHARS = 8000
MAX_TAKE_SECONDS = 120.0
MAX_TAKES_PER_SHOT = 1000
MAX_SHOTS = 2000
MAX_ASPECT = 4.0  # widest (or tallest) frame: 4:1; 32:9 is the widest screen sold
# `cast:` bounds: a cast is a handful of recurring people, places and objects, each a sentence and a few pictures.
MAX_CAST = 64
MAX_CAST_DESCRIPTION = 400
MAX_CAST_REFS = 8
MAX_SHOT_CAST = 12

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_RES_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_ASPECT_RE = re.compile(r"^(\d{1,3}):(\d{1,3})$")


class _Model(BaseModel):
    # allow_inf_nan=False: .nan and .inf are YAML floats, never a price, a length or a time.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
