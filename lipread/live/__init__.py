"""Live reading: a stream of frames (a camera, a network stream, a file played as it is filmed) read
utterance by utterance, each one given as soon as it ends.

:func:`~lipread.live.stream.read_stream` finds utterances with the model's own blank posteriors over a
sliding window (:mod:`~lipread.live.segmenter`) and reads each one as a clip of its own;
:meth:`Transcriber.stream <lipread.api.Transcriber.stream>` runs it. :mod:`~lipread.live.source` opens
cameras, stream addresses and files as frame sources for ``lipread live``. It sits below
:mod:`lipread.transcription`, which runs it, and uses a ``Transcriber`` only through the
:class:`~lipread.live.stream.Reader` protocol.
"""

from __future__ import annotations

from .segmenter import Segmenter, Span
from .stream import FPS, LiveSettings, Reader, Segment, read_stream

__all__ = ["FPS", "LiveSettings", "Reader", "Segment", "Segmenter", "Span", "read_stream"]
