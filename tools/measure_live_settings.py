"""How the live settings ``pause`` and ``context`` cut a stream of GRID sentences, and how soon each text comes.

``--clips`` clips of GRID speaker 1 (in name order, after the first ``--skip``) are joined into one stream and
read by :meth:`lipread.api.Transcriber.stream` as fast as possible, once for each ``PAUSE:CONTEXT[:LEAD]``
(seconds; ``LEAD`` defaults to :class:`~lipread.live.LiveSettings`'s).
Each segment belongs to the clip that holds its middle. For each pair it prints:

- the segments, and the clips with exactly one (a sentence split in two, or lost, counts against this);
- the clips whose one segment reads as ``Transcriber.transcribe`` reads the clip alone;
- the word error rate of the segments against the clips' sentences (a clip without its one segment counts
  all its words wrong), beside that of the clips read alone (printed once, above the table);
- the median *waiting*: the stream time from a segment's end (its last word's) to the frame that brought it
  out, the part of the latency that the settings decide (the rest is the reading, which
  ``benchmarks/live.py`` times in real time).

With ``--cut LEAD:TAIL`` (seconds, repeatable) it also reads each clip cut to its speech (the ``.align`` words)
with ``LEAD`` before and ``TAIL`` after it, no stream around it, and prints how many read as the whole clip does:
how much of the difference between a segment and its clip the frames around the speech make alone.

    OMP_NUM_THREADS=1 python tools/measure_live_settings.py 0.2:0.32 0.28:0.5 [--clips 200] [--skip 60]
        [--data ../shared/data/grid] [--cut 0.32:0.32 ...] [--model lipnet-grid-s1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lipread.api import DEFAULT_MODEL, Transcriber  # noqa: E402
from lipread.data.align import load_alignment  # noqa: E402
from lipread.data.dataset import find_clips  # noqa: E402
from lipread.data.metrics import edit_distance  # noqa: E402
from lipread.live import LiveSettings  # noqa: E402
from lipread.video.reader import read_frames  # noqa: E402

FPS = 25.0


def pair(text: str) -> tuple[float, ...]:
    """``A:B`` or ``A:B:C``, in seconds."""
    parts = tuple(float(part) for part in text.split(":"))
    if len(parts) not in (2, 3):
        raise ValueError(text)
    return parts


def cut(text: str) -> tuple[float, float]:
    """``BEFORE:AFTER``, in seconds."""
    parts = pair(text)
    if len(parts) != 2:
        raise ValueError(text)
    return parts[0], parts[1]


def wer(readings: list[str], truths: list[str]) -> float:
    """Word edits over reference words."""
    edits = sum(edit_distance(t.split(), r.split()) for r, t in zip(readings, truths))
    return edits / sum(len(t.split()) for t in truths)


def measure(
    reader: Transcriber, clips: list[np.ndarray], alone: list[str], truths: list[str], settings: LiveSettings
) -> dict[str, float]:
    """Segments, clips read once, clips read as alone, the WER and the median waiting (s) of one reading of the
    stream."""
    starts = np.cumsum([0] + [len(c) for c in clips])
    taken = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal taken
        for clip in clips:
            for frame in clip:
                taken += 1
                yield frame

    texts: dict[int, list[str]] = {}
    waiting = []
    for segment in reader.stream(frames(), FPS, settings):
        waiting.append(taken / FPS - segment.end)
        middle = (segment.start + segment.end) / 2 * FPS
        texts.setdefault(int(np.searchsorted(starts, middle, side="right")) - 1, []).append(segment.text)
    once = {k: t[0] for k, t in texts.items() if len(t) == 1}
    return {
        "segments": sum(len(t) for t in texts.values()),
        "once": len(once),
        "as_alone": sum(text == alone[k] for k, text in once.items()),
        "wer": wer([once.get(k, "") for k in range(len(clips))], truths),
        "waiting": statistics.median(waiting) if waiting else float("nan"),
    }


def cut_as_alone(
    reader: Transcriber,
    paths: list[Path],
    clips: list[np.ndarray],
    alone: list[str],
    align: Path,
    lead: float,
    tail: float,
) -> int:
    """The clips that read as ``alone`` when cut from ``lead`` seconds before their first word to ``tail`` after
    their last (within the clip)."""
    same = 0
    for path, frames, text in zip(paths, clips, alone):
        words = load_alignment(align / f"{path.stem}.align").words
        lo = max(0, round((words[0].start - lead) * FPS))
        hi = min(len(frames), round((words[-1].end + tail) * FPS))
        same += reader.transcribe(frames[lo:hi], FPS).text == text  # type: ignore[union-attr]
    return same


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pairs", nargs="*", type=pair, metavar="PAUSE:CONTEXT[:LEAD]")
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--skip", type=int, default=60, help="clips left out first (benchmarks/live.py plays them)")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "grid")
    p.add_argument("--cut", type=cut, action="append", default=[], metavar="BEFORE:AFTER")
    p.add_argument("--model", default=DEFAULT_MODEL, help="a shipped model's name or a checkpoint or .onnx path")
    args = p.parse_args()
    paths = sorted((args.data / "s1").glob("*.mp4"))[args.skip : args.skip + args.clips]
    reader = Transcriber(args.model, threads=1)
    clips = [read_frames(path) for path in paths]
    alone = [reader.transcribe(path).text for path in paths]  # type: ignore[union-attr]
    sentences = {clip.video: clip.text for clip in find_clips(args.data, speakers=[1], warn=False)}
    truths = [sentences[path] for path in paths]
    print(f"{len(paths)} clips of {args.data / 's1'}, from clip {args.skip + 1} in name order on, as one stream;")
    print(f"WER of the clips read alone: {100 * wer(alone, truths):.2f}%\n")
    print("| pause | context | lead | segments | clips with one | read as alone | WER | waiting (median) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for times in args.pairs:
        given = {"lead": times[2]} if len(times) == 3 else {}
        settings = LiveSettings(pause=times[0], context=times[1], **given)
        m = measure(reader, clips, alone, truths, settings)
        row = [f"{settings.pause:g} s", f"{settings.context:g} s", f"{settings.lead:g} s", m["segments"], m["once"]]
        row += [m["as_alone"], f"{100 * m['wer']:.2f}%", f"{m['waiting']:.2f} s"]
        print("| " + " | ".join(map(str, row)) + " |", flush=True)
    if args.cut:
        print("\n| clip cut to its speech: before | after | read as the whole clip |\n| --- | --- | --- |")
    for lead, tail in args.cut:
        same = cut_as_alone(reader, paths, clips, alone, args.data / "alignments" / "s1", lead, tail)
        print(f"| {lead:g} s | {tail:g} s | {same} of {len(paths)} |", flush=True)


if __name__ == "__main__":
    main()
