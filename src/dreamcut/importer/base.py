"""What every step of an import shares: the file types and limits it holds to, and its refusal."""

from __future__ import annotations

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".gif"}
FITS = ("auto", "crop", "pad", "blur")
SOURCES = ("camera", "generated", "unknown")  # where a clip comes from: its C2PA digital source type
MIN_SECONDS = 0.2
# With "auto", aspect ratios closer than this crop (losing a sliver); farther ones blur-pad.
AUTO_CROP_TOLERANCE = 0.12


class Refused(Exception):
    """An incoming file is refused; the message is the one line that says why."""
