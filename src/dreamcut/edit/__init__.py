"""Cutting to the music: the planner (pure), transitions, and conform."""
