"""From clips to text: loading a model, preparing clips (resampled to the model's frame rate, long ones run
in windows), running them through the model in batches, decoding them into :class:`Transcript` objects with
timed words, judging how much each clip looks like the model's training clips
(:mod:`~lipread.transcription.domain`), and writing those words as subtitles
(:mod:`~lipread.transcription.subtitles`).

This is what :func:`lipread.api.transcribe` runs; the public names are :mod:`lipread.api`'s. It ties the
stages below it together (:mod:`lipread.video`, :mod:`lipread.decoding`, the backend registry
:mod:`lipread.backend`, the shipped :mod:`lipread.models`) and is imported only by :mod:`lipread.api` and
the CLI above it.
"""

from __future__ import annotations

from .loading import load_model
from .subtitles import to_srt, to_vtt, write_subtitles
from .transcriber import PreparedClip, Transcriber, Transcript, Word

__all__ = ["PreparedClip", "Transcriber", "Transcript", "Word", "load_model", "to_srt", "to_vtt", "write_subtitles"]
