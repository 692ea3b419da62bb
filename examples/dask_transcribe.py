"""Transcribe many videos on a Dask cluster, one JSON line per video, in input order.

    python examples/dask_transcribe.py videos/ --output transcripts.jsonl                      # a local cluster
    python examples/dask_transcribe.py videos/ --scheduler tcp://scheduler:8786 -o out.jsonl  # a running one

Folders are searched recursively for videos. Without ``--scheduler`` a local cluster of ``--n-workers``
processes is started (and stopped at the end); with it, the work goes to that cluster's workers, which need
lipread and the model installed and the videos readable at the same paths (give shared paths).

Each line is a transcript (``Transcript.to_dict()``) or, for a video that cannot be read, ``{"path",
"error"}``; such videos are also reported on stderr, the others still transcribed, and the exit status is
then 1. The last line on stderr says how many clips per second were transcribed.

Needs ``pip install "lipread[dask,onnx]"`` here and on every worker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lipread.report import report_error
from lipread.transcription.distributed import DEFAULT_PARTITION_SIZE, transcribe_dask
from lipread.video.reader import VIDEO_EXTENSIONS


def find_videos(sources: list[Path]) -> list[Path]:
    """The files named, and every file with a video extension under the folders named (sorted per folder)."""
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found += sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        else:
            found.append(source)  # a missing or broken file is reported in its place
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", type=Path, nargs="+", help="video files or folders (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, help="JSON lines file to write (default: standard output)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a local cluster)")
    parser.add_argument("--n-workers", type=int, default=2, help="worker processes of the local cluster (default: 2)")
    parser.add_argument("--model", default="lipnet-grid-s1", help="shipped model name or model file on every worker")
    parser.add_argument("--backend", help="onnx, torch or tensorflow (default: chosen from the model)")
    parser.add_argument(
        "--partition-size",
        type=int,
        default=DEFAULT_PARTITION_SIZE,
        help=f"videos per task (default: {DEFAULT_PARTITION_SIZE})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="threads preparing clips in each worker process, 0: one per core "
        "(default: 1 on the local cluster, whose processes share this machine; 0 with --scheduler)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="ONNX Runtime threads in each worker process (default: half the cores the process may use)",
    )
    args = parser.parse_args(argv)

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print('this example needs Dask\'s distributed scheduler: pip install "lipread[dask,onnx]"', file=sys.stderr)
        return 1

    videos = [str(p.absolute()) for p in find_videos(args.sources)]
    if not videos:
        print(f"{' '.join(map(str, args.sources))}: no videos found", file=sys.stderr)
        return 1
    # The local cluster: single-threaded worker processes, one per core, each with its own copy of the model.
    cluster = None
    if args.scheduler is None:
        cluster = LocalCluster(n_workers=args.n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    # The local cluster's processes share this machine's cores: one thread each prepares clips. A worker of
    # a cluster of machines has a machine of its own: every core prepares clips.
    workers = args.workers if args.workers is not None else (1 if cluster is not None else 0)
    opts = {} if args.threads is None else {"threads": args.threads}
    try:
        with Client(args.scheduler or cluster) as client:
            start = time.perf_counter()
            results = transcribe_dask(
                videos,
                args.model,
                client=client,
                partition_size=args.partition_size,
                backend=args.backend,
                workers=workers,
                **opts,
            )
            seconds = time.perf_counter() - start
    finally:
        if cluster is not None:
            cluster.close()

    out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    try:
        for result in results:
            out.write(json.dumps(result) + "\n")
    finally:
        if args.output:
            out.close()
    failed = [r for r in results if "error" in r]
    for result in failed:
        report_error(result["error"])
    print(f"{len(videos)} videos in {seconds:.1f} s: {len(videos) / seconds:.2f} clips/s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
