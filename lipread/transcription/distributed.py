"""Past one machine: transcribing videos on a `Dask <https://www.dask.org>`_ cluster (the ``dask`` extra,
``pip install "lipread[dask,onnx]"``).

Dask sends the work to the machines; on each machine lipread's own pipeline
(:mod:`lipread.transcription.pipeline`) keeps the cores busy. The clips are cut into partitions of
``partition_size`` paths; :func:`transcribe_partition` transcribes one partition on a worker, and
:func:`transcribe_dask` maps it over all of them and gathers the results in input order.

Each worker process loads the model once, on its first partition, and keeps it (with its decoder) for the
next ones: a partition sends only the paths and the settings, never the model or the frames. So every worker
needs lipread and the model installed (a shipped model's name, or a model file at the same path on every
machine), and the videos readable at the paths it is given.

A video that cannot be read does not stop the job: its result is ``{"path": ..., "error": ...}`` in its
place, the error naming the file and saying what is wrong. Any other failure (a model that cannot be loaded,
a model giving NaN) fails the partition's task, and Dask reports it when the results are gathered.

Dask is imported inside the functions only, so ``import lipread`` works without it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from ..decoding.decoders import DEFAULT_BEAM_WIDTH
from ..errors import ArgumentError, LipreadError
from ..models import DEFAULT_MODEL
from ..report import PREFIX, error_line
from .loading import backend_for
from .pipeline import model_threads, transcribe_stream
from .transcriber import Transcriber

__all__ = ["DEFAULT_PARTITION_SIZE", "transcribe_dask", "transcribe_partition"]

DEFAULT_PARTITION_SIZE = 16
"""Paths per partition (one Dask task): enough to keep a worker's pipeline full (its batch and read-ahead)
and to make a task's overhead (a few milliseconds) small against its clips (about 0.2 s each on one core),
few enough that the clips spread over many workers."""

Result = dict[str, Any]
"""A clip's :meth:`Transcript.to_dict() <lipread.api.Transcript.to_dict>`, or ``{"path", "error"}``."""

_RUNNERS: dict[tuple[Any, ...], Transcriber] = {}
"""The transcribers this process has made, by their settings: a worker loads its model once."""
_RUNNERS_LOCK = threading.Lock()  # a worker with several threads may start two partitions at once


def _runner(model: str, backend: str | None, decoder: str | None, settings: dict[str, Any]) -> Transcriber:
    """This process's transcriber for these settings, made (and the model loaded) on first use."""
    key = (model, backend, decoder, tuple(sorted(settings.items())))
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            _RUNNERS[key] = Transcriber(model, backend, decoder, **settings)
        return _RUNNERS[key]


def _model_name(model: str | os.PathLike[str]) -> str:
    if not isinstance(model, (str, os.PathLike)):
        raise ArgumentError(
            f"model must be a shipped model's name or a model file every worker can read, not {type(model).__name__}"
        )
    return os.fspath(model)


def _runs_on_onnx(model: str, backend: str | None) -> bool:
    try:
        return backend_for(model, backend) == "onnx"
    except LipreadError:  # no backend for this model here: said when it loads
        return False


def _failure(item: Any, error: LipreadError) -> Result:
    """The result of a clip that cannot be read: its path and the error, which names the file."""
    path = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
    return {"path": path, "error": error_line(error, path).removeprefix(PREFIX)}


def _check_paths(paths: object) -> None:
    """Raises ArgumentError for one path given where a list of them is due (a string would be read letter by
    letter)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ArgumentError(f"paths is a list of videos, not one path: give [{os.fsdecode(paths)!r}]")


def transcribe_partition(
    paths: Iterable[str | os.PathLike[str]],
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    backend: str | None = None,
    decoder: str | None = None,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Sequence[str] | os.PathLike[str] | None = None,
    batch_size: int = 1,
    workers: int = 0,
    **opts: Any,
) -> list[Result]:
    """Transcribe a partition of videos on this process, with its kept model: what a Dask task runs.

    Use it with ``dask.bag.Bag.map_partitions``, ``distributed.Client.map`` (one list per call) or any
    engine that runs a function over lists of paths.

    Args:
        paths: video files (or frame folders) readable on this machine.
        model: a shipped model's name or a model file path (on this machine).
        backend: as :func:`lipread.api.transcribe`.
        decoder: as :func:`lipread.api.transcribe`.
        beam_width: as :func:`lipread.api.transcribe`.
        lexicon: as :func:`lipread.api.transcribe`.
        batch_size: clips per forward pass (on a CPU 1 is as fast as more, and uses less memory).
        workers: threads preparing clips on this process (0: one per core this process may use).
        opts: passed to the backend's ``load``. The onnx backend's ``threads`` defaults to half the cores this
            process may use (:func:`~lipread.transcription.pipeline.model_threads`), as for ``lipread
            transcribe`` of a folder.

    Returns:
        One result per path, in order: the clip's :meth:`Transcript.to_dict()
        <lipread.api.Transcript.to_dict>`, or ``{"path": path, "error": "<path>: <what is wrong>"}`` for a
        video that cannot be read.

    Raises:
        ArgumentError, CheckpointError, BackendError: bad settings, or a model this process cannot load.
        DecodingError: the model gave NaN log-probabilities.
    """
    _check_paths(paths)
    name = _model_name(model)
    settings = dict(opts, beam_width=beam_width, batch_size=batch_size, workers=workers)
    if lexicon is not None:  # hashable, to key the kept models; a path or a string is checked by the decoder
        settings["lexicon"] = lexicon if isinstance(lexicon, (str, bytes, os.PathLike)) else tuple(lexicon)
    if "threads" not in settings and _runs_on_onnx(name, backend):
        settings["threads"] = model_threads()  # this machine's: the other cores prepare clips
    runner = _runner(name, backend, decoder, settings)
    return [
        _failure(item, got) if isinstance(got, LipreadError) else got.to_dict()
        for item, got in transcribe_stream(runner, list(paths), workers=runner.workers)
    ]


def transcribe_dask(
    paths: Sequence[str | os.PathLike[str]] | Any,
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    client: Any = None,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    **settings: Any,
) -> list[Result]:
    """Transcribe videos on a Dask cluster; the results come back in input order.

    Example::

        from distributed import Client
        from lipread.transcription.distributed import transcribe_dask

        client = Client("tcp://scheduler:8786")
        for result in transcribe_dask(paths, client=client):
            print(result.get("text"), result.get("error"))

    Args:
        paths: video paths (as the workers see them), or a ``dask.bag.Bag`` of them (its partitions are kept).
        model: a shipped model's name or a model file at the same path on every worker.
        client: the ``distributed.Client`` to run on; None: Dask's current scheduler (the last ``Client``
            made, else Dask's default one for bags, a pool of local processes).
        partition_size: paths per task, for a list (see :data:`DEFAULT_PARTITION_SIZE`).
        settings: passed to :func:`transcribe_partition` (``backend``, ``decoder``, ``batch_size``,
            ``workers``, ``threads``, ...).

    Returns:
        As :func:`transcribe_partition`, one result per path, in order.

    Raises:
        ArgumentError: a bad ``partition_size`` or ``model``.
        ImportError: Dask is not installed (``pip install "lipread[dask]"``).
        LipreadError: as :func:`transcribe_partition`, raised from the first failed task.
    """
    if isinstance(partition_size, bool) or not isinstance(partition_size, int) or partition_size < 1:
        raise ArgumentError(f"partition_size must be a positive integer, not {partition_size!r}")
    _check_paths(paths)
    name = _model_name(model)
    try:
        import dask.bag as db
    except ImportError as e:
        raise ImportError(f'{e}; running on Dask needs the dask extra: pip install "lipread[dask]"') from e
    if isinstance(paths, db.Bag):
        bag = paths
    else:
        items = [os.fspath(p) for p in paths]
        if not items:
            return []
        bag = db.from_sequence(items, partition_size=partition_size)
    done = bag.map_partitions(transcribe_partition, name, **settings)
    return list(done.compute(scheduler=client) if client is not None else done.compute())
