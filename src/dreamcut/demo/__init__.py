"""The demo project: an original synthesized song and an example shot list."""
