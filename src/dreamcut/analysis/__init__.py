"""Hearing the material: the song (beats, bars, sections) and, later, the takes."""
