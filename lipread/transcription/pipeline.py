"""Many clips on every core: clips are decoded, their mouths located and cropped in worker threads while the
model runs on the clips before them, and the results come back in input order.

Threads rather than processes: decoding (FFmpeg), face detection (OpenCV's DNN module), resizing and the model
(ONNX Runtime) all run outside Python's lock, so threads keep every core busy without a copy of lipread,
OpenCV and the model in each process, and without sending the clips between processes. Memory stays bounded
whatever the number of clips: at most ``workers + batch_size`` clips are read ahead of the model (see
:func:`transcribe_stream`).
"""

from __future__ import annotations

import numbers
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar, Union, cast

from ..errors import ArgumentError, LipreadError

if TYPE_CHECKING:
    from .transcriber import PreparedClip, Transcriber, Transcript

__all__ = ["available_cores", "model_threads", "prepared_in_order", "resolve_workers", "transcribe_stream"]

T = TypeVar("T")
Prepared = Union["PreparedClip", LipreadError]
Outcome = Union["Transcript", LipreadError]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it, else every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None) -> int:
    """The number of worker threads for ``workers``: itself when positive, one per core for 0 or None.

    Raises:
        ArgumentError: ``workers`` is negative or not an integer.
    """
    if workers is None:
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
        raise ArgumentError(f"workers must be a non-negative integer (0: one per core), not {workers!r}")
    return int(workers) or available_cores()  # a NumPy integer is one too


def model_threads(cores: int | None = None) -> int:
    """Threads for the model while workers prepare clips on the same cores: half of them, at least one.

    A model on every core leaves the workers none, and ONNX Runtime's threads wait for each other, spinning,
    whenever one of them is interrupted; on two cores a one-thread model and two workers transcribe a folder
    faster, on a quarter less CPU time, than a two-thread model and the same workers (the throughput
    benchmark measures both).
    """
    return max(1, (cores or available_cores()) // 2)


def _attempt(prepare: Callable[[T], PreparedClip], item: T) -> Prepared:
    """``prepare(item)``, or the LipreadError that says why the item cannot be read (other errors propagate)."""
    try:
        return prepare(item)
    except LipreadError as e:
        return e


def prepared_in_order(
    items: Iterable[T], prepare: Callable[[T], PreparedClip], workers: int, ahead: int
) -> Iterator[tuple[T, Prepared]]:
    """``(item, prepare(item))`` for every item, in input order, prepared by ``workers`` threads.

    At most ``ahead`` items are submitted and not yet handed on, so memory does not grow with the number of
    items. An item whose preparation raises a :class:`~lipread.errors.LipreadError` comes with that error
    instead of a clip; any other exception is raised when its item's turn comes. Closing the iterator early
    cancels the items not yet started and waits for those running.
    """
    if workers < 1 or ahead < 1:
        raise ArgumentError(f"workers and ahead must be positive, not {workers} and {ahead}")
    pool = ThreadPoolExecutor(workers, thread_name_prefix="lipread-prepare")
    pending: deque[tuple[T, Future[Prepared]]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(_attempt, prepare, item)))
            if len(pending) >= ahead:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def transcribe_stream(
    runner: Transcriber,
    items: Iterable[T],
    prepare: Callable[[T], PreparedClip] | None = None,
    workers: int | None = None,
) -> Iterator[tuple[T, Outcome]]:
    """``(item, Transcript)`` for every item, in input order, or ``(item, LipreadError)`` for one that cannot
    be read (the others are still transcribed).

    Args:
        runner: the model and decoder; its ``batch_size`` clips go through the model at a time.
        items: video paths, frames arrays, or anything ``prepare`` takes.
        prepare: item -> :class:`~lipread.transcription.transcriber.PreparedClip` (default ``runner.prepare``).
            It runs in worker threads, so it must not rely on running in the caller's thread.
        workers: threads preparing clips (0 or None: one per core, :func:`available_cores`).

    Memory: ``workers + batch_size`` clips are prepared ahead of the model (so the workers keep busy while it
    runs), each ``float32 (75, 50, 100, 3)``, 4.5 MB, for a GRID clip and the shipped model, plus the frames
    each worker is decoding. A :class:`~lipread.errors.DecodingError` of the model (NaN log-probabilities)
    stops the stream, as it stops :meth:`~lipread.transcription.transcriber.Transcriber.run`.
    """
    from .transcriber import PreparedClip

    count = resolve_workers(workers)
    buffer: list[tuple[T, Prepared]] = []
    ready = 0
    # runner.prepare takes any clip a Transcriber reads, which covers every item type a caller passes
    prep = prepare if prepare is not None else cast("Callable[[T], PreparedClip]", runner.prepare)
    for item, got in prepared_in_order(items, prep, count, count + runner.batch_size):
        buffer.append((item, got))
        ready += isinstance(got, PreparedClip)
        if ready == runner.batch_size:
            yield from _run(runner, buffer)
            buffer, ready = [], 0
    yield from _run(runner, buffer)


def _run(runner: Transcriber, buffer: list[tuple[T, Prepared]]) -> Iterator[tuple[T, Outcome]]:
    """The buffer's clips through the model in one batch, and every item's outcome in order."""
    from .transcriber import PreparedClip

    clips = [got for _, got in buffer if isinstance(got, PreparedClip)]
    transcripts = iter(runner.run(clips) if clips else [])
    for item, got in buffer:
        yield item, next(transcripts) if isinstance(got, PreparedClip) else got
