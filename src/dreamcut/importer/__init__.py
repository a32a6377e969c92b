"""Import takes made elsewhere: downloaded clips become takes like generated ones.

`import_files(project, shot, files)` brings each video file in as a take of `shot`
(`source='imported'`, `backend='imported'`):

1. refuse early, with one line naming the file and the reason (not a video, unreadable,
   no video stream, too short, damaged beyond repair);
2. the same file twice (by content hash) is one take;
3. keep the original under `takes/<shot>/originals/` (copied, or with `link=True` a hard
   link, else a symbolic link outside the home folder), and make a mezzanine the rest of dreamcut can rely on:
   constant frame rate at the project's fps, the project's master size with a stated fit
   (`crop`, `pad`, `blur` = blurred fill behind the whole picture), rotation applied,
   non-square pixels shown at their display shape, colours read by the source's tags (or
   its resolution's convention when untagged: HD BT.709, SD BT.601) and converted to the
   BT.709 the mezzanine is tagged with, H.264 yuv420p 8-bit, source metadata dropped;
4. keep what the provider said (its C2PA manifest, model, prompt; never a muxer's name as
   the maker), record where the clip comes from (`source`: camera | generated | unknown,
   the C2PA digital source type) and sign the mezzanine;
5. rename the files into place and write the catalog row last, in one transaction.

Every byte is written under `.dreamcut/tmp/import-<pid>-*` first, so a failed or killed
import leaves nothing in `takes/` and no catalog row; the next import clears what a
killed one left behind.

`watch(project, folder, ...)` imports files as they finish downloading (same size on
two checks in a row), choosing the shot from the file name.

The package's parts: `ingest` (steps 1-5 for one file, and many), `facts` (what a file says
about itself: sidecar, maker, colours), `normalize` (the mezzanine), `watch`, `base` (limits
and the refusal).

It must never touch a take already in the project, and never store a path inside the
user's home folder (a bare file name is stored instead).
"""

from __future__ import annotations

from dreamcut.importer.facts import (SourceColour, colour_filter, is_muxer, source_colour,
                                     square_pixels_filter)
from dreamcut.importer.ingest import (FITS, MIN_SECONDS, SOURCES, VIDEO_SUFFIXES, ImportResult,
                                      clear_stale_temp, expand_inputs, import_files, import_one, source_for)
from dreamcut.importer.normalize import fit_filter
from dreamcut.importer.watch import ShotRouter, pattern_regex, watch

__all__ = ["FITS", "MIN_SECONDS", "SOURCES", "VIDEO_SUFFIXES", "ImportResult", "ShotRouter", "SourceColour",
           "clear_stale_temp", "colour_filter", "expand_inputs", "fit_filter", "import_files", "import_one", "is_muxer",
           "pattern_regex", "source_colour", "source_for", "square_pixels_filter", "watch"]
