"""Finishing: the one-process ffmpeg render of a timeline, and upscaling to the final size."""

from dreamcut.render.ffmpeg import render_timeline

__all__ = ["render_timeline"]
