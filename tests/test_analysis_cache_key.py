"""The song-map cache is keyed by the analysis code itself, not only by a hand-bumped number.

ANALYSIS_VERSION is bumped by hand; a change to the analysis that forgot the bump would have served
song maps heard by the old code. The key also carries a hash of the analysis package's sources
(`analysis.audio.analysis_code_digest`), so any edit to them hears the song anew.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import write_song
from dreamcut.analysis.audio import analysis_code_digest, analyze_song

SRC = Path(__file__).resolve().parents[1] / "src"
DIGEST = "from dreamcut.analysis.audio import analysis_code_digest; print(analysis_code_digest())"


def _digest_of(src: Path) -> str:
    out = subprocess.run([sys.executable, "-c", DIGEST], env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True, cwd=src)
    return out.stdout.strip()


def test_an_edit_to_the_analysis_sources_changes_the_cache_key(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(SRC / "dreamcut", copy / "dreamcut", ignore=shutil.ignore_patterns("__pycache__"))
    assert _digest_of(copy) == analysis_code_digest()  # the same sources, the same key
    beats = copy / "dreamcut" / "analysis" / "beats.py"
    beats.write_text(beats.read_text(encoding="utf-8") + "\n# a changed rule\n", encoding="utf-8")
    assert _digest_of(copy) != analysis_code_digest()
    # a video-analysis edit is not the song analysis: it leaves song maps alone
    shutil.rmtree(copy)
    shutil.copytree(SRC / "dreamcut", copy / "dreamcut", ignore=shutil.ignore_patterns("__pycache__"))
    video = next((copy / "dreamcut" / "analysis" / "video").glob("*.py"))
    video.write_text(video.read_text(encoding="utf-8") + "\n# a changed rule\n", encoding="utf-8")
    assert _digest_of(copy) == analysis_code_digest()


def test_the_cache_entry_is_named_by_the_code_that_heard_it(tmp_path):
    cache = tmp_path / "cache"
    song = write_song(tmp_path / "s.wav", 8.0)
    analyze_song(song, cache_dir=cache)
    [entry] = list(cache.glob("song-*.json"))
    assert f"-c{analysis_code_digest()}-" in entry.name
    # an entry left by other code (another key) is not read: the song is heard and a new entry written
    entry.rename(cache / entry.name.replace(f"-c{analysis_code_digest()}-", "-c000000000000-"))
    analyze_song(song, cache_dir=cache)
    assert len(list(cache.glob("song-*.json"))) == 2
