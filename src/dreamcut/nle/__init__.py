"""Exchange with NLEs (Premiere, Resolve, Avid): one file per format, shared by export and conform.

`export.export_all` writes the edit out; `conform.read_edit` reads an NLE's edit back.
Both go through the same format files (`otio`, `fcp7`, `edl`, `otioz`) and the same reel
table (`reels`), so what leaves comes back the same: same take, in point, duration, speed.
"""
