"""The demo project: an example shot list (`project.py`) and an original synthesized song (`song.py`)."""
