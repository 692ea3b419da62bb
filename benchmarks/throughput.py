"""Transcribing a folder of GRID clips: clips per second of the pipeline against the sequential path and bare decoding.

Cases, each over the same ``--clips`` GRID speaker-1 clips (default 40), timed in turn round after round by
wall time (the pipeline's gain is cores working at once, which CPU time does not show):

- ``bare OpenCV decoding``: the floor. ``cv2.VideoCapture`` read loop over every clip, keeping the frames of
  the clip being read, nothing else (OpenCV's default threads).
- ``sequential, every third frame``: lipread before the pipeline: clips read one by one (decode, BlazeFace in
  every third frame, crop), 8 at a time through the model, then the next 8; the model on ONNX Runtime's
  default threads.
- ``pipeline, every third frame``: :func:`lipread.transcription.pipeline.transcribe_stream` with the same
  locator: clips read by one worker thread per core while the model runs on half the cores; the model's
  batch is ``lipread transcribe``'s default. Its transcripts must be those of the sequential path, to the letter.
- ``pipeline (lipread transcribe's defaults)``: the same with the default mouth locator, which detects the face
  in every 15th frame and follows it between (:func:`lipread.video.face.follow_faces`).
- ``pipeline, model on every core``: the same with ONNX Runtime on one thread per core (its own default)
  instead of ``lipread transcribe``'s default for several clips, half the cores
  (:func:`lipread.transcription.pipeline.model_threads`).
- ``pipeline, int8``: the same with an int8 export of the model (``--int8 FILE``; default the shipped
  ``lipnet-grid-s1.int8.onnx`` when this installation has it), or not measured.

Quality: the 90 validation clips of speaker 1 (the seed-0 random split of
:func:`lipread.data.dataset.split_clips`) are transcribed with both locators; following the face must not
make the CER or WER worse (``--no-quality`` skips this).

Memory: ``lipread transcribe`` at its defaults, in a fresh process, on a folder of ``--clips`` clips and on
one of three times as many (peak RSS must not grow with the folder), and on a ``--long-minutes`` clip (GRID
clips joined end to end; 0 skips it).

Targets (2 cores): the pipeline >= 2.5x the sequential path's clips/s in float32 (>= 4x with int8), with
identical transcripts for the same locator; the defaults within 4x of bare decoding's time; peak RSS <= 400 MB
for a folder and <= 600 MB for a 10-minute clip.

Usage::

    python benchmarks/throughput.py [--clips 40] [--rounds 3] [--int8 FILE] [--long-minutes 10] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
from common import GRID, Report, median, ratio

PIPELINE_TARGET = 2.5
INT8_TARGET = 4.0
FLOOR_TARGET = 4.0
FOLDER_RSS_MB = 400
LONG_RSS_MB = 600
SEQUENTIAL_BATCH = 8
"""The batch of the sequential path: ``lipread transcribe``'s default before the pipeline."""

MEASURE_RSS = """
import sys
from lipread.cli.app import main
status = main(sys.argv[1:])
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(int(peak) / 1024, file=sys.stderr)
sys.exit(status)
"""
"""A fresh process running ``lipread ARGS`` that prints its peak RSS in MB as the last line of stderr.

``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the forked copy of the parent (this
benchmark, with its models loaded) into the program it executes, while ``VmHWM`` starts afresh."""


def bare_decode(paths: list[Path]) -> int:
    """Decode every frame of every clip with OpenCV, keeping one clip's frames at a time."""
    import cv2

    return sum(len(common.keep_frames(cv2.VideoCapture(str(path)))) for path in paths)


def sequential(runner: Any, paths: list[Path]) -> list[str]:
    """lipread's path before the pipeline: prepare a batch one clip at a time, run it, then the next batch."""
    texts = []
    for i in range(0, len(paths), runner.batch_size):
        texts += [t.text for t in runner.run([runner.prepare(p) for p in paths[i : i + runner.batch_size]])]
    return texts


def pipelined(runner: Any, paths: list[Path]) -> list[str]:
    """The pipeline: workers prepare clips while the model runs; transcripts in input order."""
    from lipread.transcription.pipeline import transcribe_stream

    return [t.text for _, t in transcribe_stream(runner, paths, workers=runner.workers)]  # type: ignore[union-attr]


def peak_rss(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``lipread ARGS`` in a fresh process (its output discarded)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_RSS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"lipread {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return float(done.stderr.strip().splitlines()[-1]), seconds


def folder_of(paths: list[Path], folder: Path) -> Path:
    """A folder of links to ``paths`` (what ``lipread transcribe FOLDER`` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        (folder / p.name).symlink_to(p)
    return folder


def quality(report: Report, model: str) -> None:
    """CER and WER of both locators on the 90 validation clips, and how many transcripts differ."""
    from lipread.api import Transcriber
    from lipread.data.dataset import find_clips, split_clips
    from lipread.data.metrics import summarise
    from lipread.video.mouth import FaceMouthLocator

    clips = split_clips(find_clips(GRID), "random", val_fraction=0.1, seed=0)[1]
    refs = [c.text for c in clips]
    common.log(f"quality: {len(clips)} validation clips, two locators ...")
    hyps = {}
    for label, locator in (
        ("every third frame", FaceMouthLocator(every=None, name="face")),
        ("followed (default)", FaceMouthLocator()),
    ):
        runner = Transcriber(model, locator=locator, batch_size=1)
        hyps[label] = pipelined(runner, [c.video for c in clips])
    table = report.table(
        f"Validation clips of speaker 1 ({len(clips)}, seed-0 random split), {model}, its default decoder",
        ["face located", "CER", "WER", "sentence accuracy", "transcripts as with every third frame"],
    )
    scores = {label: summarise(refs, h) for label, h in hyps.items()}
    base = hyps["every third frame"]
    for label, h in hyps.items():
        s = scores[label]
        same = sum(a == b for a, b in zip(base, h))
        table.rows.append(
            [label, f"{s['cer']:.2%}", f"{s['wer']:.2%}", f"{s['sentence_accuracy']:.2%}", f"{same} of {len(h)}"]
        )
    old, new = scores["every third frame"], scores["followed (default)"]
    report.target(
        "validation CER and WER, face followed vs detected in every third frame",
        "not worse",
        f"CER {new['cer']:.2%} vs {old['cer']:.2%}, WER {new['wer']:.2%} vs {old['wer']:.2%}",
        new["cer"] <= old["cer"] and new["wer"] <= old["wer"],
    )
    report.data["quality"] = scores


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], rounds=3)
    p.set_defaults(clock="wall")
    p.add_argument("--clips", type=int, default=40, help="clips per timed run (default 40)")
    p.add_argument("--int8", type=Path, help="an int8 export of the model (default: the shipped one, if installed)")
    p.add_argument("--long-minutes", type=float, default=10, help="length of the long clip (default 10; 0: skip)")
    p.add_argument("--no-quality", action="store_true", help="skip the validation-clip comparison of the locators")
    args = p.parse_args()
    common.need_data()
    from lipread.api import Transcriber
    from lipread.config import DEFAULT_BATCH_SIZE
    from lipread.models import DEFAULT_MODEL, get_shipped
    from lipread.transcription.pipeline import available_cores, model_threads
    from lipread.video.mouth import FaceMouthLocator

    report = Report("throughput", "Transcribing a folder: pipeline vs sequential path vs bare decoding")
    report.machine = common.machine()
    paths = sorted((GRID / "s1").glob("*.mp4"))[: args.clips]
    model = DEFAULT_MODEL
    int8 = args.int8
    if int8 is None:
        shipped = get_shipped(DEFAULT_MODEL).path("int8")
        int8 = shipped if shipped.is_file() else None
    dense = FaceMouthLocator(every=None, name="face")
    cores = available_cores()  # ONNX Runtime's default on a machine of this many cores, whatever the affinity
    half = model_threads(cores)  # lipread transcribe's default for several clips
    runners = {
        "sequential": Transcriber(model, locator=dense, batch_size=SEQUENTIAL_BATCH, workers=1, threads=cores),
        "pipeline dense": Transcriber(model, locator=dense, batch_size=DEFAULT_BATCH_SIZE, threads=half),
        "pipeline": Transcriber(model, batch_size=DEFAULT_BATCH_SIZE, threads=half),
        "pipeline all cores": Transcriber(model, batch_size=DEFAULT_BATCH_SIZE, threads=cores),
    }
    if int8 is not None:
        runners["pipeline int8"] = Transcriber(str(int8), batch_size=DEFAULT_BATCH_SIZE, threads=half)
    names = {
        "sequential": "sequential, every third frame (before the pipeline)",
        "pipeline dense": "pipeline, every third frame",
        "pipeline": "pipeline (lipread transcribe's defaults)",
        "pipeline all cores": "pipeline, model on every core",
        "pipeline int8": "pipeline, int8 model",
    }
    texts: dict[str, list[str]] = {}

    def case(key: str) -> Callable[[], Any]:
        def run() -> None:
            texts[key] = sequential(runners[key], paths) if key == "sequential" else pipelined(runners[key], paths)

        return run

    cases: dict[str, Callable[[], Any]] = {"bare OpenCV decoding": lambda: bare_decode(paths)}
    cases.update({names[k]: case(k) for k in runners})
    report.settings = {
        "clips": f"{len(paths)} of GRID s1",
        "rounds": args.rounds,
        "clock": f"{args.clock} time, medians",
        "workers": f"{runners['pipeline'].workers} (one per core of {cores})",
        "model threads": f"{cores} (sequential), {half} (pipeline)",
        "pipeline batch": DEFAULT_BATCH_SIZE,
        "sequential batch": SEQUENTIAL_BATCH,
        "model": f"{model} (float32){f', {int8.name} (int8)' if int8 else ''}",
    }
    common.log(f"timing {len(cases)} cases x {args.rounds} rounds over {len(paths)} clips ...")
    cpu: dict[str, list[float]] = {name: [] for name in cases}

    def with_cpu(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> None:
            start = time.process_time()
            fn()
            cpu[name].append(time.process_time() - start)

        return run

    samples = common.interleaved({n: with_cpu(n, fn) for n, fn in cases.items()}, args.rounds, clock=args.clock)
    t = {name: median(s) for name, s in samples.items()}
    c = {name: median(s[1:]) for name, s in cpu.items()}  # the first call is the warm-up
    floor, before = t["bare OpenCV decoding"], t[names["sequential"]]
    table = report.table(
        f"Seconds for {len(paths)} clips ({args.clock} time)",
        ["case", "s (median)", "clips/s", "vs sequential", "vs bare decoding", "CPU s", "cores busy"],
    )
    for name in samples:
        speed = f"{len(paths) / t[name]:.1f}"
        ratios = [ratio(before / t[name]), ratio(t[name] / floor)]
        table.rows.append([name, f"{t[name]:.2f}", speed, *ratios, f"{c[name]:.2f}", f"{c[name] / t[name]:.2f}"])
    same_locator = texts["pipeline dense"] == texts["sequential"]
    speedup = before / t[names["pipeline"]]
    report.target(
        "pipeline, float32, vs the sequential path (clips/s)",
        f">= {PIPELINE_TARGET}x",
        f"{ratio(speedup)} (defaults; {ratio(before / t[names['pipeline dense']])} with the sequential path's locator)",
        speedup >= PIPELINE_TARGET,
    )
    report.target(
        "transcripts of the pipeline vs the sequential path, same locator",
        "identical",
        f"{sum(a == b for a, b in zip(texts['pipeline dense'], texts['sequential']))} of {len(paths)} identical",
        same_locator,
    )
    if int8 is not None:
        speedup8 = before / t[names["pipeline int8"]]
        report.target(
            "pipeline, int8, vs the sequential path", f">= {INT8_TARGET}x", ratio(speedup8), speedup8 >= INT8_TARGET
        )
    else:
        report.target(
            "pipeline, int8, vs the sequential path",
            f">= {INT8_TARGET}x",
            "not measured: no int8 model (--int8 FILE)",
            None,
        )
    near = t[names["pipeline"]] / floor
    report.target(
        "pipeline (defaults) vs bare OpenCV decoding (time)", f"<= {FLOOR_TARGET}x", ratio(near), near <= FLOOR_TARGET
    )
    with tempfile.TemporaryDirectory() as tmp:
        memory(report, paths, Path(tmp), args.long_minutes)
    if not args.no_quality:
        quality(report, model)
    report.notes.append(
        "The sequential path is what lipread transcribe ran before the pipeline: clips decoded and their faces "
        "detected in every third frame one at a time, then 8 at a time through the model."
    )
    report.notes.append(
        "CPU s is the CPU time of all the benchmark's threads; cores busy = CPU s / s. On a machine that other "
        "work shares, the wall times stretch and the pipeline's cores busy falls short of the cores it has."
    )
    report.data["seconds"] = t
    report.data["cpu_seconds"] = c
    report.emit(args.json)


def memory(report: Report, paths: list[Path], tmp: Path, minutes: float) -> None:
    """Peak RSS of ``lipread transcribe`` at its defaults: folders of two sizes and (unless ``minutes`` is 0) a
    long clip."""
    small = folder_of(paths, tmp / "small")
    every = sorted((GRID / "s1").glob("*.mp4"))
    large = folder_of(every[: 3 * len(paths)], tmp / "large")
    table = report.table(
        "Peak memory of lipread transcribe at its defaults, fresh process", ["input", "peak RSS MB", "s"]
    )
    peaks = []
    for folder in (small, large):
        common.log(f"memory: folder of {len(list(folder.iterdir()))} clips ...")
        peak, seconds = peak_rss(["transcribe", str(folder), "--no-progress"])
        peaks.append(peak)
        table.rows.append([f"folder of {len(list(folder.iterdir()))} clips", f"{peak:.0f}", f"{seconds:.1f}"])
    worst = max(peaks)
    report.target(
        "peak RSS, a folder (largest of two sizes)", f"<= {FOLDER_RSS_MB} MB", f"{worst:.0f} MB", worst <= FOLDER_RSS_MB
    )
    if minutes <= 0:
        report.target(f"peak RSS, a {minutes:g}-minute clip", f"<= {LONG_RSS_MB} MB", "not measured", None)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from long_input import join_clips

    clip = tmp / f"{minutes:g}min.mp4"
    common.log(f"memory: writing a {minutes:g}-minute clip ...")
    join_clips(every[:40], clip, round(minutes * 60 * 25))
    common.log(f"memory: {clip.name} ...")
    peak, seconds = peak_rss(["transcribe", str(clip), "--no-progress"])
    table.rows.append([f"one {minutes:g}-minute clip", f"{peak:.0f}", f"{seconds:.1f}"])
    report.target(f"peak RSS, a {minutes:g}-minute clip", f"<= {LONG_RSS_MB} MB", f"{peak:.0f} MB", peak <= LONG_RSS_MB)
    report.data["peak_rss_mb"] = {"folders": peaks, "long": peak}


if __name__ == "__main__":
    main()
