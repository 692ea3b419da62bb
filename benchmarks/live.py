"""Live reading (``Transcriber.stream``) on a stream of GRID clips played at 25 fps, as a camera delivers it.

The stream is speaker 1's clips one after another (cycling through them in name order, decoded as they are
needed), delivered in real time as a camera delivers it, each frame once it has been filmed: frame ``i``
(which shows the stream from ``i / 25`` to ``(i + 1) / 25`` s) no sooner than ``(i + 1) / 25`` s after the
start. Measured in the same run:

- **keeping up**: the stream's duration over the time the reader was busy (not waiting for frames): above 1
  it keeps ahead of 25 fps; and the largest lag (how late a frame is taken, compared with when it was
  delivered) in the first and in the last fifth of the stream, which grows when the reader falls behind;
- **memory**: resident memory (``/proc/self/statm``) once the first fifth of the stream has been read, and at
  the end;
- **latency**: for every segment, the wall time from the end of its speech (its last word's end, when that
  frame was delivered) to the moment the segment is yielded, in two parts: *waiting*, the stream time from
  the end of speech to the frame that ended the utterance (the pause that ends it, ``LiveSettings.pause``,
  and the frames the model must see after it), and *reading*, the wall time from that frame's delivery to the
  segment (the model's run and the decoder, and any lag behind the stream).

Usage::

    python benchmarks/live.py [--minutes 10] [--threads 1] [--precision fp32] [--hop 25] [--pause 0.2]
        [--context 0.32] [--lead 0.48] [--json]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import common
import numpy as np
from common import GRID, Report, log

FPS = 25.0
TARGET_LATENCY = 0.5
"""The target median latency, in seconds, from the end of an utterance to its text."""


def clip_frames(clips: list[Path], frames: int) -> Iterator[np.ndarray]:
    """``frames`` RGB frames of the clips, one after another, cycling; one clip decoded at a time."""
    from lipread.video.reader import read_frames

    given = 0
    while True:
        for clip in clips:
            for frame in read_frames(clip):
                if given == frames:
                    return
                given += 1
                yield frame


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], rounds=1)
    p.add_argument("--minutes", type=float, default=10.0, help="length of the stream (default 10)")
    p.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    p.add_argument("--precision", choices=("fp32", "int8"), default="fp32", help="the model's (default fp32)")
    p.add_argument("--hop", type=int, default=25, help="LiveSettings.hop (default 25)")
    p.add_argument("--pause", type=float, help="LiveSettings.pause (default: its default)")
    p.add_argument("--context", type=float, help="LiveSettings.context (default: its default)")
    p.add_argument("--lead", type=float, help="LiveSettings.lead (default: its default)")
    args = p.parse_args()
    common.need_data()
    from lipread.api import Transcriber
    from lipread.live import LiveSettings
    from lipread.live.stream import LOOKAHEAD
    from lipread.models import DEFAULT_MODEL
    from lipread.transcription.loading import with_precision

    clips = sorted((GRID / "s1").glob("*.mp4"))
    total = round(args.minutes * 60 * FPS)
    reader = Transcriber(with_precision(DEFAULT_MODEL, args.precision), threads=args.threads)
    chosen = {name: getattr(args, name) for name in ("pause", "context", "lead") if getattr(args, name) is not None}
    settings = LiveSettings(hop=args.hop, **chosen)
    fifth = max(1, total // 5)
    lags: list[float] = []
    memory: dict[str, float] = {}
    waited = 0.0
    taken = 0
    start = time.monotonic()

    def delivered() -> Iterator[np.ndarray]:
        nonlocal waited, taken
        for i, frame in enumerate(clip_frames(clips, total)):
            taken = i + 1
            due = start + (i + 1) / FPS
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
                waited += due - now
            lags.append(max(0.0, time.monotonic() - due))
            if i == fifth:
                memory["after the first fifth"] = rss_mib()
            if i % round(60 * FPS) == 0:
                log(f"{i / FPS / 60:.0f} min of the stream read")
            yield frame

    latencies: list[float] = []
    waiting: list[float] = []
    segments = 0
    for segment in reader.stream(delivered(), FPS, settings):
        latencies.append(time.monotonic() - (start + segment.end))
        waiting.append(taken / FPS - segment.end)  # frame i is delivered (i + 1) / FPS after the start
        segments += 1
    busy = time.monotonic() - start - waited
    memory["at the end"] = rss_mib()
    seconds = total / FPS
    speed = seconds / busy
    first, last = max(lags[:fifth]), max(lags[-fifth:])
    median_latency = statistics.median(latencies) if latencies else float("nan")
    reading = [x - w for x, w in zip(latencies, waiting)]
    median_waiting = statistics.median(waiting) if waiting else float("nan")
    median_reading = statistics.median(reading) if reading else float("nan")

    report = Report("live", "Live reading: a GRID stream at 25 fps, read as it plays")
    report.machine = common.machine()
    report.settings = {
        "stream": f"{args.minutes:g} min of GRID speaker 1 clips ({total} frames at 25 fps, {len(clips)} clips cycled)",
        "threads": args.threads,
        "precision": args.precision,
        "hop": settings.hop,
        "pause": f"{settings.pause:g} s",
        "context": f"{settings.context:g} s",
        "lead": f"{settings.lead:g} s",
    }
    report.target(
        "keeps ahead of 25 fps (stream time / busy time)", ">= 1.0x", f"{speed:.2f}x ({busy:.0f} s busy)", speed >= 1
    )
    report.target(
        "no growing lag (largest lag, first fifth of the stream -> last fifth)",
        "last <= first + 0.5 s",
        f"{first:.2f} s -> {last:.2f} s",
        last <= first + 0.5,
    )
    growth = memory["at the end"] - memory["after the first fifth"]
    report.target(
        "flat memory (RSS after the first fifth of the stream -> at the end)",
        "grows <= 20 MiB",
        f"{memory['after the first fifth']:.0f} -> {memory['at the end']:.0f} MiB",
        growth <= 20,
    )
    report.target(
        "median latency, end of an utterance's speech -> its text",
        f"<= {TARGET_LATENCY * 1e3:.0f} ms",
        f"{median_latency * 1e3:.0f} ms (waiting {median_waiting * 1e3:.0f} ms, reading {median_reading * 1e3:.0f} ms)",
        median_latency <= TARGET_LATENCY,
    )
    columns = ["segments", "median", "90th percentile", "largest", "waiting (median)", "reading (median)"]
    t = report.table("Latency per segment (s)", columns)
    if latencies:
        q = np.percentile(latencies, [50, 90, 100])
        parts = [f"{median_waiting:.2f}", f"{median_reading:.2f}"]
        t.rows.append([str(segments), f"{q[0]:.2f}", f"{q[1]:.2f}", f"{q[2]:.2f}", *parts])
    clips_played = total / 75
    report.notes.append(f"{segments} segments for about {clips_played:.0f} clips (one sentence each) played.")
    report.notes.append(
        f"Waiting: the pause that ends an utterance ({settings.pause:g} s) and the {LOOKAHEAD / FPS:g} s the model "
        "must see after it; reading: from the delivery of the frame that ends it to its text."
    )
    report.data = {
        "speed": speed,
        "lag_first": first,
        "lag_last": last,
        "latencies": latencies,
        "waiting": waiting,
        "memory": memory,
    }
    report.emit(args.json)


if __name__ == "__main__":
    sys.exit(main())
