"""How well dreamcut hears songs it did not make: beat F, cuts on beats, section boundaries.

Renders the public-domain scores of tests/midi_songs.py with FluidSynth (exact beats from
the MIDI tempo map), analyses them with `dreamcut.analysis.audio.analyze_song`, and prints
one row per recording: mir_eval beat F (+-70 ms), downbeat F, the share of downbeats (the
planner's preferred cut places) within 70 ms of a true beat, the share of a planned edit's
cuts (24 fps, `pacing: auto`) within 70 ms of a true beat (and of a true downbeat), and the share of annotated
section boundaries with a detected boundary within one bar (`sections_found`: the bar line before
or after counts; and, stricter, on the annotated bar line) (the totals: steady recordings only;
the rubato and ramp versions' rows say their own). Recordings in
`midi_songs.HELD_OUT` were added after tuning and are reported apart, as are sessions 5's and 6's
sealed ones (`midi_songs.SEEN_S5`, `SEEN_S6`, each measured once then, studied since); recordings
in `midi_songs.SEALED` (none since session 7) are measured only with `--sealed`.

Then pop songs with human section labels (tests/pop909_songs.py: POP909 piano arrangements,
the first 180 s, sections from Dai, Zhang and Dannenberg's annotator 1): the DEV and SEEN_S5 to
SEEN_S23 songs by default, the SEALED ones only with `--sealed` (run it once the analysis work is
done, never while tuning), each set with its own totals, and the human
ceiling: annotator 2's boundaries and labels scored against annotator 1's the same way.
`--pop909` measures the POP909 songs only.

`--peers` scores named peers on the same recordings in the same run, with the same functions
(benchmarks/song_peers.py: librosa's beat tracker; McFee and Ellis's Laplacian segmentation and
librosa's agglomerative segmentation), and prints a table per set of dreamcut against each of them,
as counts and ratios (dreamcut / peer). Their results are cached beside the analysis cache.

    python benchmarks/song_accuracy.py [--json] [--sealed] [--pop909] [--peers]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import midi_songs  # noqa: E402
import pop909_songs  # noqa: E402
import song_peers  # noqa: E402 - benchmarks/, beside this file


BAR_SLACK = midi_songs.BAR_SLACK  # tests/test_sections_exact_repeats.py names it here
sections_found = midi_songs.sections_found


def beat_f_measure(true_beats: list[float], heard_beats: list[float]) -> float:
    """mir_eval's beat F within 70 ms, the first 5 s of both ignored (`trim_beats`): dreamcut's
    row and the peers' (`--peers`) alike."""
    import mir_eval

    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.array(true_beats)),
                                         mir_eval.beat.trim_beats(np.array(heard_beats)), 0.07))


def score(recording) -> dict:
    """One row: `recording` is a music21 piece's name (tests/midi_songs.py) or a rendered
    recording with the same fields (a tests/pop909_songs.Song)."""
    import mir_eval

    from dreamcut.analysis.audio import analyze_song

    r = midi_songs.render(recording) if isinstance(recording, str) else recording
    a = analyze_song(r.wav, cache_dir=midi_songs.CACHE / "analysis")
    ref = np.array(r.beats)
    beat_f = beat_f_measure(r.beats, a.beats)
    down_f = mir_eval.beat.f_measure(np.array(r.downbeats), np.array(a.downbeats), 0.07)
    inside = [d for d in a.downbeats if ref[0] - 0.07 <= d <= ref[-1] + 0.07]
    on_beat = float(np.mean([np.min(np.abs(ref - d)) <= 0.07 for d in inside])) if inside else 0.0
    # a real edit: 24 fps, `pacing: auto`, takes of 12 s, as many shots as 8-bar phrases
    cuts = [m["record_start"] for m in midi_songs.planned_cuts(a)]
    cuts = [c for c in cuts if ref[0] - 0.07 <= c <= ref[-1] + 0.07]  # where the score has beats
    cuts_on = float(np.mean([np.min(np.abs(ref - c)) <= 0.07 for c in cuts])) if cuts else 0.0
    true_down = np.array(r.downbeats)  # (in 2/4: every other bar line, as the analysis counts)
    cuts_down = float(np.mean([np.min(np.abs(true_down - c)) <= 0.07 for c in cuts])) if cuts else 0.0
    found = midi_songs.sections_heard(r, a)
    same_pairs = None
    if r.sections:
        # labels: do two annotated sections share a label exactly when they share material?
        pairs, truth, got = midi_songs.material_agreement(r.material(), [(s.start, s.end, s.label) for s in a.sections],
                                                          a.duration)
        same_pairs = (sum(pairs), len(pairs), truth, got)
    heard = [(s.start, s.end, s.label) for s in a.sections]
    # POP909's letters say verse (A) and chorus (B); the scores' letters name no such thing
    names = naming(r.material(), heard, r.downbeats) if r.name.startswith("pop909") else None
    return {"naming": names, "heard_sections": heard, "recording": r.name, "moving": r.moving, "label_pairs": same_pairs, "title": r.title, "seconds": r.seconds, "tempo": a.tempo,
            "pulse": a.pulse,
            "beat_f": round(beat_f, 3), "downbeat_f": round(down_f, 3), "cuts_on_beat": round(on_beat, 3), "planned_cuts": len(cuts), "planned_cuts_on_beat": round(cuts_on, 3),
            "planned_cuts_on_downbeat": round(cuts_down, 3),
            **found, "labels": [s.label for s in a.sections]}


def score_peers(recording) -> dict:
    """The named peers' row for a recording (benchmarks/song_peers.py): librosa's beat tracker
    scored with `beat_f_measure`, the Laplacian and the agglomerative segmentations' boundaries with
    `midi_songs.sections_heard`, as `score` scores dreamcut's."""
    r = midi_songs.render(recording) if isinstance(recording, str) else recording
    heard = song_peers.hear(r.wav, cache_dir=midi_songs.CACHE / "peers")
    sections = {name: midi_songs.sections_heard(r, song_peers.PeerSections.from_boundaries(heard[name]))
                for name in ("laplacian", "agglomerative")}
    return {"librosa_beat_f": round(beat_f_measure(r.beats, heard["librosa_beats"]), 3), **sections}


def peers_table(sets: list[tuple[str, list[dict]]]) -> None:
    """dreamcut against the peers, set by set, on the rows `score` made with `score_peers`'s
    under "peers": beat F >= 0.9 and mean beat F (every recording of the set), boundaries within a
    bar and found boundaries near an annotated one (steady recordings with annotated sections, as
    the section totals count), their F, and dreamcut / peer."""
    def ratio(ours: float, theirs: float) -> str:
        return f"{ours / theirs:.2f}" if theirs else "-"

    import librosa

    print("\ndreamcut against named peers, same recordings, same run (ratio: dreamcut / peer). Beats: librosa "
          f"{librosa.__version__} beat_track, defaults. Sections: McFee & Ellis 2014 Laplacian segmentation (librosa's gallery, "
          f"k = {song_peers.LAPLACIAN_K}), librosa agglomerative on beat-synchronous chroma + MFCC "
          f"(one segment per {song_peers.AGGLOMERATIVE_SECONDS:.0f} s).")
    print("| set | songs | beat F >= 0.9: dreamcut, librosa (ratio) | mean beat F: dreamcut, librosa (ratio) | "
          "boundaries within a bar: dreamcut, Laplacian (ratio), agglomerative (ratio) | "
          "found boundaries near an annotated one: dreamcut, Laplacian, agglomerative | "
          "boundary F within a bar: dreamcut, Laplacian (ratio), agglomerative (ratio) |")
    print("|---|---|---|---|---|---|---|")
    for label, rs in sets:
        if not rs:
            continue
        good = sum(r["beat_f"] >= 0.9 for r in rs)
        peer_good = sum(r["peers"]["librosa_beat_f"] >= 0.9 for r in rs)
        mean, peer_mean = float(np.mean([r["beat_f"] for r in rs])), float(np.mean([r["peers"]["librosa_beat_f"] for r in rs]))
        steady = [r for r in rs if not r["moving"] and r["section_hits"] is not None]
        n = sum(r["sections"] for r in steady)

        def hits(rows) -> tuple[int, int, int]:  # within a bar, found near one, found
            return (sum(x["section_hit_count"] for x in rows), sum(x["section_near_count"] for x in rows),
                    sum(x["section_found"] for x in rows))
        def f_measure(counts: tuple[int, int, int]) -> float:
            # recall: annotated boundaries within a bar of a found one; precision: found ones near
            # an annotated one. A peer that finds a boundary every few beats hits most annotated
            # ones (recall alone flatters it); F weighs the two.
            recall, precision = counts[0] / max(1, n), counts[1] / max(1, counts[2])
            return 2 * recall * precision / (recall + precision) if recall + precision else 0.0
        ours = hits(steady)
        lap = hits([r["peers"]["laplacian"] for r in steady])
        agg = hits([r["peers"]["agglomerative"] for r in steady])
        f, f_lap, f_agg = f_measure(ours), f_measure(lap), f_measure(agg)
        print(f"| {label} | {len(rs)} | {good}, {peer_good} ({ratio(good, peer_good)}) | "
              f"{mean:.3f}, {peer_mean:.3f} ({ratio(mean, peer_mean)}) | "
              f"{ours[0]}, {lap[0]} ({ratio(ours[0], lap[0])}), {agg[0]} ({ratio(ours[0], agg[0])}) of {n} | "
              f"{ours[1]} of {ours[2]}, {lap[1]} of {lap[2]}, {agg[1]} of {agg[2]} | "
              f"{f:.2f}, {f_lap:.2f} ({ratio(f, f_lap)}), {f_agg:.2f} ({ratio(f, f_agg)}) |")


# POP909's letters the measured names stand for (Dai, Zhang and Dannenberg: A verse, B chorus)
NAMED = {pop909_songs.LETTER_NAMES[letter]: letter for letter in "BA"}  # chorus B, verse A


def naming(annotated: list[tuple[float, str]], heard: list[tuple[float, float, str]],
           downbeats: list[float]) -> dict[str, list[int]]:
    """Whether the chorus is named chorus (and the verse verse), bar by bar: each bar between two
    of `downbeats` (the annotated ones inside the excerpt) is annotated with the letter of the
    section of `annotated` ((start s, letter), the first at 0) playing at its middle and heard with
    the name of the section of `heard` ((start, end, name)) there. Per name of NAMED:
    [bars annotated with its letter, of them heard with the name, bars heard with the name, of them
    annotated with the letter]: recall is the second over the first, precision the fourth over the
    third. The label pairs say only whether sections share a name when they share material; this
    says whether the name is the right one (what `pacing: auto` and `place: {section: chorus}` read)."""
    out = {name: [0, 0, 0, 0] for name in NAMED}
    starts = [t for t, _ in annotated]
    for a, b in zip(downbeats[:-1], downbeats[1:]):
        mid = (a + b) / 2
        i = int(np.searchsorted(starts, mid, side="right")) - 1
        letter = annotated[max(0, i)][1]
        name = next((lab for t0, t1, lab in heard if t0 <= mid < t1), None)
        for want, c in out.items():
            is_letter, is_name = letter == NAMED[want], name == want
            c[0] += is_letter
            c[1] += is_letter and is_name
            c[2] += is_name
            c[3] += is_name and is_letter
    return out


def naming_totals(rows: list[dict]) -> str:
    """`naming` summed over rows that have it: recall and precision of each name."""
    rows = [r for r in rows if r.get("naming")]
    if not rows:
        return ""
    parts = []
    for name, letter in NAMED.items():
        c = [sum(r["naming"][name][k] for r in rows) for k in range(4)]
        parts.append(f"{letter} bars heard {name} {c[1]} of {c[0]} ({c[1] / max(1, c[0]):.2f}), "
                     f"{name} bars annotated {letter} {c[3]} of {c[2]} ({c[3] / max(1, c[2]):.2f})")
    return "; names: " + ", ".join(parts)


def human_ceiling(song: pop909_songs.Song) -> dict:
    """Annotator 2's sections scored against annotator 1's as `score` scores dreamcut's: how far
    two careful listeners agree."""
    bar = float(np.median(np.diff(song.downbeats)))
    other = song.material_2
    found = sections_found(song.sections, [t for t, _ in other[1:]], bar, song.seconds)
    ends = [t for t, _ in other[1:]] + [song.seconds]
    pairs, truth, got = midi_songs.material_agreement(song.material_1, [(t0, t1, m) for (t0, m), t1 in zip(other, ends)],
                                                      song.seconds)
    # annotator 2's letters named as NAMED names them (B chorus, A verse), scored as dreamcut's names
    letter_name = {v: k for k, v in NAMED.items()}
    named = [(t0, t1, letter_name.get(m, m)) for (t0, m), t1 in zip(other, ends)]
    return {"recording": song.name, "moving": False, "label_pairs": (sum(pairs), len(pairs), truth, got), **found,
            "naming": naming(song.material_1, named, song.downbeats)}


def main() -> None:
    names = [n for n in midi_songs.PIECES if "--sealed" in sys.argv or n not in midi_songs.SEALED]
    if "--pop909" in sys.argv:
        names = []
    peers = "--peers" in sys.argv
    peer_seconds = 0.0

    def scored(recording) -> dict:  # dreamcut's row, with the peers' under "peers" when asked
        nonlocal peer_seconds
        row = score(recording)
        if peers:
            t0 = time.perf_counter()
            row["peers"] = score_peers(recording)
            peer_seconds += time.perf_counter() - t0
        return row
    rows = [scored(n) for n in names]
    pop_sets = [(f"POP909 {name}", ids) for name, ids in pop909_songs.STUDIED_SETS]
    if "--sealed" in sys.argv:
        pop_sets.append(("POP909 sealed", pop909_songs.SEALED))
    pop: list[tuple[str, list[dict], list[dict]]] = []
    for label, ids in pop_sets:
        songs = [pop909_songs.render(i) for i in ids]
        pop.append((label, [scored(s) for s in songs], [human_ceiling(s) for s in songs]))
    for r in rows:
        r["held_out"] = r["recording"] in midi_songs.HELD_OUT
        r["sealed"] = r["recording"] in midi_songs.SEALED
        r["seen_s5"] = r["recording"] in midi_songs.SEEN_S5
        r["seen_s6"] = r["recording"] in midi_songs.SEEN_S6

    def group(rs) -> str:  # boundaries hit, boundaries found near one, label pairs agreeing: summed
        rs = [r for r in rs if not r["moving"]]  # steady recordings (a moving one's row says its own)
        hit = sum(r["section_hit_count"] for r in rs if r["section_hits"] is not None)
        on_bar = sum(r["section_on_bar_count"] for r in rs if r["section_hits"] is not None)
        n = sum(r["sections"] for r in rs if r["section_hits"] is not None)
        near = sum(r["section_near_count"] for r in rs if r["section_hits"] is not None)
        found = sum(r["section_found"] for r in rs if r["section_hits"] is not None)
        agree = sum(r["label_pairs"][0] for r in rs if r["label_pairs"])
        pairs = sum(r["label_pairs"][1] for r in rs if r["label_pairs"])
        return (f"boundaries within a bar {hit} of {n} ({hit / max(1, n):.2f}), on the annotated bar line {on_bar} "
                f"({on_bar / max(1, n):.2f}); found boundaries near an annotated "
                f"one {near} of {found}; label pairs agreeing {agree} of {pairs} ({agree / max(1, pairs):.2f})"
                + naming_totals(rs))
    if "--json" in sys.argv:
        # one list as before; the POP909 rows and their human ceiling say their set
        print(json.dumps(rows + [{**r, "set": label} for label, rs, hs in pop for r in rs]
                         + [{**h, "set": f"{label}, human ceiling"} for label, rs, hs in pop for h in hs], indent=2))
        return
    def table(rows) -> None:
        print("| recording | beat F | downbeat F | cut places on a beat | planned cuts on a beat | "
              "section boundaries within a bar | found boundaries near one | planned cuts on a downbeat |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print_row(r)

    def print_row(r) -> None:
        sec = ("-" if r["section_hits"] is None
               else f"{r['section_hit_count']} of {r['sections']} ({r['section_on_bar_count']} on the bar line)")
        prec = "-" if r["section_precision"] is None else f"{r['section_near_count']} of {r['section_found']}"
        print(f"| {r['title']}{' (held out, s4)' if r.get('held_out') else ' (sealed in s5)' if r.get('seen_s5') else ' (sealed in s6)' if r.get('seen_s6') else ' (sealed)' if r.get('sealed') else ''} | {r['beat_f']:.3f} | {r['downbeat_f']:.3f} | {r['cuts_on_beat']:.3f} | "
              f"{r['planned_cuts_on_beat']:.2f} of {r['planned_cuts']} | {sec} | {prec} | {r['planned_cuts_on_downbeat']:.2f} |"
              f"  {r['labels']}")
        if r["label_pairs"]:
            k, n, truth, got = r["label_pairs"]
            print(f"    labels: {k} of {n} section pairs agree (same material <-> same label); "
                  f"{'annotated' if r['recording'].startswith('pop909') else 'score'} {truth}, heard {got}")
    if rows:
        table(rows)
    tuned = [r for r in rows if not (r["held_out"] or r["sealed"] or r["seen_s5"] or r["seen_s6"])]
    held, sealed = [r for r in rows if r["held_out"]], [r for r in rows if r["sealed"]]
    seen, seen6 = [r for r in rows if r["seen_s5"]], [r for r in rows if r["seen_s6"]]
    if tuned:
        print(f"\nsections, tuned-on recordings: {group(tuned)}")
    if held:
        print(f"sections, held out in session 4: {group(held)}")
    if seen:
        print(f"sections, sealed in session 5 (seen since): {group(seen)}")
    if seen6:
        print(f"sections, sealed in session 6 (seen since): {group(seen6)}")
    if sealed:
        print(f"sections, sealed: {group(sealed)}")
    for label, rs, hs in pop:
        print(f"\n{label} (POP909, human section labels of annotator 1):")
        table(rs)
        for h in hs:
            hit, n, near, found = h["section_hit_count"], h["sections"], h["section_near_count"], h["section_found"]
            print(f"    {h['recording']} annotator 2 against 1: boundaries within a bar {hit} of {n} "
                  f"({h['section_on_bar_count']} on the bar line), found near one "
                  f"{near} of {found}, label pairs {h['label_pairs'][0]} of {h['label_pairs'][1]}")
        mean = lambda k: float(np.mean([r[k] for r in rs]))  # noqa: E731
        print(f"{label}: {group(rs)}; mean beat F {mean('beat_f'):.3f}, downbeat F {mean('downbeat_f'):.3f}, "
              f"planned cuts on a beat {mean('planned_cuts_on_beat'):.2f}")
        print(f"{label}, human ceiling (annotator 2 against annotator 1): {group(hs)}")
    if peers:
        every_pop = [r for _, rs, _ in pop for r in rs]
        peers_table([("music21 scores", rows)] + [(label, rs) for label, rs, _ in pop]
                    + ([("POP909, all sets", every_pop)] if len(pop) > 1 else []))
        print(f"\nthe peers heard and were scored in {peer_seconds:.0f} s (their cache: {midi_songs.CACHE / 'peers'})")


if __name__ == "__main__":
    main()
