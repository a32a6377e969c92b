"""Cutting to the music: the planner (pure) and the transitions."""
