"""What the editor knows about a song: the `SongAnalysis` record and its `Section`s.

The record the analysis (`analysis.audio`) fills, the cache stores (`to_dict` / `from_dict`,
with `ANALYSIS_VERSION`) and the director's corrections (`analysis.corrections`) rewrite, and
the questions the planner asks of it (nearest beat, bar, beat in bar, section). No I/O.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field

import numpy as np


ANALYSIS_VERSION = 107  # bumped whenever the analysis changes: cached song maps of another version are redone
_ON_TIME = 0.005  # seconds: a time this close to a beat / bar / section start is on it
LABELS = ("intro", "verse", "chorus", "bridge", "outro")
SURE_BEAT = 0.5  # a beat with this confidence or more is one the planner may cut on without doubt
# A section whose start has this confidence or more is one the planner treats as a section start
# (a cut there, phrases counted from it); below it the boundary is a guess (see `sure_section`).
SURE_SECTION = 0.5


def minute_second(t: float) -> str:
    """'m:ss' of a second in the song: how the song map's doubts and the pins' lines name a place."""
    return f"{int(t // 60)}:{int(t % 60):02d}"


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    label: str
    confidence: float = 1.0  # 0..1: how sure the analysis is of this boundary and label (1: the director's)


@dataclass
class SongAnalysis:
    """What the editor needs to know about a song. Times in seconds from the song start."""

    duration: float
    sample_rate: int
    tempo: float
    beats: list[float]
    downbeats: list[float]
    beats_per_bar: int
    onsets: list[float] = field(default_factory=list)
    energy_times: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    content_hash: str = ""
    tempo_curve: list[list[float]] = field(default_factory=list)  # [second, bpm] every 4 beats
    pulse: float = 1.0  # 0..1: how clearly the beat is heard (below WEAK_PULSE: cut on phrases)
    corrected: list[str] = field(default_factory=list)  # which facts the spec's `song:` block set
    # 0..1 per beat: how sure the analysis is of it (a clear attack of its own, standing out from
    # the half-beats around it); empty: every beat is sure (the director's grid, an older cache)
    beat_confidence: list[float] = field(default_factory=list)
    # half or twice the tempo (bpm) when the analysis finds it nearly as likely the beat
    # (`analysis.tempo.other_octave`); 0: the tempo's octave is clear
    other_octave: float = 0.0
    # the first downbeat had the bar started half a bar on, when the two halves of the 4-beat bar
    # sound nearly alike (`analysis.metre.half_bar_margin` under HALF_BAR_DOUBT); None: the bar line is clear
    other_downbeat: float | None = None
    # the name of the repeated material nearly as loud as the chorus (`analysis.sections.chorus_rival`):
    # which of the two is the chorus is a guess; None: the chorus is clearly the loudest (or none repeats)
    other_chorus: str | None = None
    # per onset (same order as `onsets`): how strong an attack it is, the onset envelope's peak there
    # over the song's largest (0..1), and the same of the bass band's; empty: an older cache
    onset_strength: list[float] = field(default_factory=list)
    onset_bass: list[float] = field(default_factory=list)

    # -- serialisation --------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["version"] = ANALYSIS_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SongAnalysis":
        return cls(duration=float(d["duration"]), sample_rate=int(d["sample_rate"]), tempo=float(d["tempo"]),
                   beats=[float(x) for x in d["beats"]], downbeats=[float(x) for x in d["downbeats"]],
                   beats_per_bar=int(d["beats_per_bar"]), onsets=[float(x) for x in d.get("onsets", [])],
                   energy_times=[float(x) for x in d.get("energy_times", [])],
                   energy=[float(x) for x in d.get("energy", [])],
                   sections=[Section(float(s["start"]), float(s["end"]), str(s["label"]), float(s.get("confidence", 1.0)))
                             for s in d.get("sections", [])],
                   content_hash=str(d.get("content_hash", "")),
                   tempo_curve=[[float(a), float(b)] for a, b in d.get("tempo_curve", [])],
                   pulse=float(d.get("pulse", 1.0)), corrected=[str(x) for x in d.get("corrected", [])],
                   beat_confidence=[float(x) for x in d.get("beat_confidence", [])],
                   other_octave=float(d.get("other_octave", 0.0)),
                   other_downbeat=None if d.get("other_downbeat") is None else float(d["other_downbeat"]),
                   other_chorus=None if d.get("other_chorus") is None else str(d["other_chorus"]),
                   onset_strength=[float(x) for x in d.get("onset_strength", [])],
                   onset_bass=[float(x) for x in d.get("onset_bass", [])])

    def octave_doubt(self) -> str:
        """The tempo's other octave, said plainly when the analysis is not sure of it ('' when it is,
        or when the director set the tempo): what `dreamcut song` prints beside the tempo."""
        if not self.other_octave or "tempo" in self.corrected:
            return ""
        which = "half" if self.other_octave < self.tempo else "double"
        return (f"{which}, {self.other_octave:.0f} bpm, is nearly as likely from the audio: if that is the beat you count, "
                f"set `song: bpm: {self.other_octave:.0f}`")

    @property
    def grid_corrected(self) -> bool:
        """Whether the director set the bar grid (the spec's `song:` tempo or bpm, meter or downbeat)."""
        return bool({"tempo", "meter", "downbeat"} & set(self.corrected))

    def downbeat_doubt(self) -> str:
        """The other half of the bar, said plainly when the analysis heard its two halves nearly alike
        ('' when it did not, or when the director set the downbeat, the tempo or the meter): what
        `dreamcut song` prints below the tempo line."""
        if self.other_downbeat is None or self.grid_corrected:
            return ""
        return (f"the bar may start on beat 3 as heard (its two halves sound nearly alike): if you count bar 1 "
                f"from {self.other_downbeat:.2f} s, set `song: downbeat: {self.other_downbeat:.2f}`")

    def chorus_doubt(self) -> str:
        """The material nearly as loud as the chorus, said plainly when the analysis named the chorus by a
        coin toss ('' when the chorus is clearly the loudest repeated material, or when the director gave
        the sections): what `dreamcut song` prints above the sections, and what a pin onto either says
        (`edit.pins.pin_doubt`)."""
        if not self.chorus_in_doubt:
            return ""
        at = ", ".join(minute_second(s.start) for s in self.sections if s.label == self.other_chorus)
        return (f"the {self.other_chorus} ({at}) is nearly as loud as the chorus, so which of the two is the chorus "
                f"is a guess: if you hear the chorus there, give the section list in the spec's song: block")

    @property
    def chorus_in_doubt(self) -> bool:
        """Whether the chorus's name is a coin toss the song map says (`other_chorus`, and no section list
        from the director): what `chorus_doubt` and `name_in_doubt` ask, without building the line."""
        return self.other_chorus is not None and "sections" not in self.corrected

    def name_in_doubt(self, i: int) -> bool:
        """Whether the `i`-th section's name is a coin toss (`chorus_in_doubt`: it is the chorus or the
        material nearly as loud): the one test the pins' line, the pacing, the board and song.png ask."""
        return self.chorus_in_doubt and self.sections[i].label in ("chorus", self.other_chorus)

    # -- questions the planner asks -------------------------------------------------
    @property
    def beat_period(self) -> float:
        if len(self.beats) >= 2:
            return float(np.median(np.diff(self.beats)))
        return 60.0 / self.tempo if self.tempo > 0 else 0.5

    def sure_beat(self, i: int) -> bool:
        """Whether the analysis is sure of beat `i` (a cut should prefer such beats)."""
        if len(self.beat_confidence) != len(self.beats):
            return True
        return self.beat_confidence[i] >= SURE_BEAT

    def sure_section(self, i: int) -> bool:
        """Whether the analysis is sure where section `i` starts (the song's first section, and every
        section the director gave in the spec's `song:` block, is sure)."""
        return i == 0 or self.sections[i].confidence >= SURE_SECTION

    def phrase_origin(self, t: float) -> float:
        """Where the phrases at `t` count from: the start of the latest sure section at or before
        `t` (a guessed section boundary does not restart the 4 / 8-bar phrase grid)."""
        origin = 0.0
        for i, s in enumerate(self.sections):
            if s.start - _ON_TIME > t:
                break
            if self.sure_section(i):
                origin = s.start
        return origin

    def nearest_beat(self, t: float) -> int:
        """Index of the beat closest to `t` (-1 if the song has no beats)."""
        if not self.beats:
            return -1
        i = bisect.bisect_left(self.beats, t)
        if i == 0:
            return 0
        if i >= len(self.beats):
            return len(self.beats) - 1
        return i if self.beats[i] - t < t - self.beats[i - 1] else i - 1

    def bar_index(self, t: float) -> int:
        """0-based index of the bar containing `t` (-1 before the first downbeat).

        A time within 5 ms of a downbeat counts as on it (beat times are estimates).
        """
        return bisect.bisect_right(self.downbeats, t + _ON_TIME) - 1

    def beat_in_bar(self, t: float) -> int:
        """1-based position of the beat nearest `t` inside its bar (1 = downbeat)."""
        i = self.nearest_beat(t)
        if i < 0:
            return 1
        b = self.beats[i]
        bar = self.bar_index(b)
        if bar < 0:
            # Pickup beats before the first bar count back from it.
            first = bisect.bisect_left(self.beats, self.downbeats[0] - _ON_TIME) if self.downbeats else 0
            return (self.beats_per_bar - (first - i) % self.beats_per_bar) % self.beats_per_bar + 1
        first = bisect.bisect_left(self.beats, self.downbeats[bar] - _ON_TIME)
        return (i - first) % self.beats_per_bar + 1

    def section_at(self, t: float) -> tuple[int, Section] | None:
        for i, s in enumerate(self.sections):
            if s.start - _ON_TIME <= t < s.end - _ON_TIME:
                return i, s
        return None

    def section_names(self) -> list[str]:
        """Each section's name with its occurrence, e.g. ['intro#1', 'verse#1', 'chorus#1', 'verse#2'...]."""
        seen: dict[str, int] = {}
        out = []
        for s in self.sections:
            seen[s.label] = seen.get(s.label, 0) + 1
            out.append(f"{s.label}#{seen[s.label]}")
        return out
