"""Analysis of the song and of takes: beats and sections, take quality, search.

Each module reads media and returns plain data (cached by content hash); none of them
renders, edits or writes to the catalog.
"""
