"""Your own data set: a manifest file listing clips, or an LRS-style folder of videos with transcripts.

**Manifest.** A CSV file (``.csv``; ``.tsv`` with tabs) whose header names the columns, or a JSON Lines file
(``.jsonl``, ``.ndjson``) of one object per line, with these fields:

- ``video`` (required): a video file or a frame folder; a relative path is relative to the manifest's folder;
- ``text`` (required): what is said (normalised by :func:`normalise_text`);
- ``start``, ``end`` (optional): the clip's span in the video, in seconds (a clip cut from a longer video);
- ``speaker`` (optional): a number (``4``, ``s4``) or any name; used by the speaker splits.

Other fields are ignored, so are blank lines. A bad row (a missing field, a video that is not there, a span
that is not a pair of numbers with ``0 <= start < end``, an empty text, a row repeated) is reported as
``lipread: error: <manifest>:<line>: skipped: <reason>`` and left out; the rest are read.

**LRS folders.** ``clip.mp4`` (any video extension, or a frame folder ``clip/``) beside ``clip.txt`` whose first
line is ``Text: WHAT IS SAID``, at any depth under the folder, as in LRS2 and LRS3 (whose other lines are
ignored). The speaker is the name of the clip's folder. A ``.txt`` file whose first line is not ``Text: ...``
is reported and left out.

Each clip gets a :attr:`~lipread.data.dataset.Clip.key` from its path relative to the manifest or folder (and
its span), so the crop cache and the splits depend only on the data set, not on where it lies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..report import counted, report_skipped
from ..video.reader import VIDEO_EXTENSIONS, is_frame_folder
from ..vocab import Vocabulary
from .dataset import Clip
from .text_file import read_text_file

__all__ = ["MANIFEST_SUFFIXES", "find_lrs_clips", "normalise_text", "parse_manifest", "read_manifest"]

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")
"""The file name endings :func:`read_manifest` (and so :func:`lipread.data.dataset.find_clips`) reads as manifests."""

_SPACE = re.compile(r"\s+")
_SPEAKER = re.compile(r"^s?(\d+)(?:\.0+)?$", re.IGNORECASE)
"""A speaker number: ``4``, ``s4``, or ``4.0`` as a spreadsheet writes a number column with gaps."""
_UNSAFE = re.compile(r"[^\w.-]+")


class RowError(ValueError):
    """One manifest row that cannot be used; the message is the reason."""


def normalise_text(text: str, vocabulary: Vocabulary | None = None) -> str:
    """``text`` as the models' vocabularies spell it: Unicode NFC, runs of white space made one space, ends
    stripped, invisible characters dropped (control and format characters: a NUL, a soft hyphen, a zero-width
    space, a byte-order mark; none is said), and lower-cased unless ``vocabulary`` has upper-case letters of
    its own (both shipped vocabularies are lower-case). Characters the vocabulary lacks are left for the
    caller to report."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", text))
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf")).strip()
    if vocabulary is None or not any(c != c.lower() for c in vocabulary.characters):
        text = text.lower()
    return text


def _number(value: Any, field: str) -> float | None:
    """A ``start``/``end`` value as seconds; None when absent or empty. RowError when it is not a number >= 0."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RowError(f"{field} must be a number of seconds, not {value!r}")
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        raise RowError(f"{field} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RowError(f"{field} must be a finite number of seconds, 0 or more, not {value!r}")
    return seconds


def _speaker(value: Any) -> int | str | None:
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    m = _SPEAKER.match(text)
    return int(m.group(1)) if m and len(m.group(1)) < 10 else text


def _text(value: Any, field: str = "text") -> str:
    if value is None:
        raise RowError(f"no {field}")
    if not isinstance(value, str):
        raise RowError(f"{field} must be text, not {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): no character at all
        raise RowError(f"{field} holds a lone UTF-16 surrogate, which is no character: {value!r}") from None
    return value


def _video(value: Any, base: Path) -> Path:
    """The row's video (relative to ``base``); RowError when it is missing or neither a file nor a frame folder."""
    name = _text(value, "video").strip()
    if not name:
        raise RowError("no video")
    try:
        path = Path(name)
        path = Path(os.path.normpath(path if path.is_absolute() else base / path))  # one spelling per file
        if path.is_file():
            return path
        if path.is_dir():
            if is_frame_folder(path):
                return path
            raise RowError(f"video {name}: a folder, but not a frame folder (numbered images)")
    except (OSError, ValueError) as e:
        raise RowError(f"video {name!r}: {getattr(e, 'strerror', None) or e}") from None
    raise RowError(f"video {name}: not found")


def _key(relative: str, speaker: int | str | None, start: float | None, end: float | None) -> str:
    """A file-name-safe unique key: the video's stem, the cut, and a digest of the relative path."""
    stem = _UNSAFE.sub("_", Path(relative).stem)[:40] or "clip"
    digest = hashlib.sha1(relative.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    parts = [] if speaker is None else [_UNSAFE.sub("_", f"s{speaker}" if isinstance(speaker, int) else speaker)[:20]]
    parts += [stem, digest]
    if start is not None or end is not None:
        ms = [str(round(1000 * t)) if t is not None else "" for t in (start, end)]
        parts.append("-".join(ms))
    return "_".join(parts)


def parse_row(
    row: Mapping[str, Any], base: Path, vocabulary: Vocabulary | None = None
) -> tuple[Path, str, int | str | None, float | None, float | None, str]:
    """``(video, text, speaker, start, end, key)`` of one manifest row; RowError (a ValueError) when it is bad."""
    video = _video(row.get("video"), base)
    text = normalise_text(_text(row.get("text")), vocabulary)
    if not text:
        raise RowError("empty text")
    start, end = _number(row.get("start"), "start"), _number(row.get("end"), "end")
    if start is not None and end is not None and end <= start:
        raise RowError(f"end ({end:g} s) must be after start ({start:g} s)")
    speaker = _speaker(row.get("speaker"))
    relative = str(row.get("video")).strip().replace("\\", "/")
    return video, text, speaker, start, end, _key(relative, speaker, start, end)


_COLUMNS = ("video", "text", "start", "end", "speaker")
"""The columns (JSON keys) a manifest row is read from; any other is ignored."""


def _csv_rows(text: str, delimiter: str, path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(line, row) of a CSV text, or (line, RowError) for a row the CSV reader cannot parse (reading stops)."""
    # strict: a quote left open is an error at the end of the file, not a text that swallows every later row
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise DataError(f"{path}:1: cannot read the CSV header: {e}") from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header or []]
    missing = [f for f in ("video", "text") if f not in names]
    if missing:
        raise DataError(
            f"{path}: the CSV header must name the columns video and text (and optionally start, end, speaker); "
            f"{' and '.join(missing)} missing"
        )
    twice = sorted({n for n in names if n in _COLUMNS and names.count(n) > 1})
    if twice:  # which of the two would be read is a guess the file should not leave to lipread
        raise DataError(f"{path}:1: the CSV header names the column {twice[0]} more than once")
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield line, RowError(f"not a CSV row ({e}); the rest of the file is not read")
            return
        if any(c.strip() for c in cells):
            if len(cells) > len(names):
                yield line, RowError(f"{len(cells)} cells, but the header names {len(names)} columns")
            else:
                yield line, dict(zip(names, cells))
        line = reader.line_num + 1


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (ValueError, RecursionError) as e:
            yield number, RowError(f"not a JSON object ({e})")
            continue
        if not isinstance(row, dict):
            yield number, RowError(f"not a JSON object, but {type(row).__name__}")
            continue
        keys = [k.strip().lower() for k in row]  # "Text" is "text", as a CSV header is
        twice = sorted({k for k in keys if k in _COLUMNS and keys.count(k) > 1})
        if twice:
            yield number, RowError(f"the key {twice[0]} is given more than once (in other cases or spacing)")
            continue
        yield number, dict(zip(keys, row.values()))


def parse_manifest(
    text: str, path: str | os.PathLike[str], vocabulary: Vocabulary | None = None
) -> tuple[list[Clip], list[tuple[int, str]]]:
    """The clips of a manifest's ``text`` and ``[(line, reason)]`` for its bad rows.

    ``path`` is the manifest's file name: its ending chooses the format (``.jsonl``/``.ndjson``: JSON Lines,
    ``.tsv``: tab-separated, else CSV), and relative videos are found from its folder.

    Raises:
        DataError: a CSV header without ``video`` and ``text`` columns (nothing else: every other problem is
            a bad row).
    """
    path = Path(path)
    base = path.parent
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows: Iterator[tuple[int, dict[str, Any] | RowError]] = _jsonl_rows(text)
    else:
        rows = _csv_rows(text, "\t" if suffix == ".tsv" else ",", path)
    clips: list[Clip] = []
    bad: list[tuple[int, str]] = []
    seen: dict[tuple[Path, float | None, float | None], int] = {}
    for line, row in rows:
        try:
            if isinstance(row, RowError):
                raise row
            video, words, speaker, start, end, key = parse_row(row, base, vocabulary)
            if (video, start, end) in seen:
                raise RowError(f"the same video and span as line {seen[video, start, end]}")
        except RowError as e:
            bad.append((line, str(e)))
            continue
        seen[video, start, end] = line
        clips.append(Clip(video, words, speaker, None, start, end, key, f"{path}:{line}"))
    return clips, bad


def read_manifest(path: str | os.PathLike[str], warn: bool = True, vocabulary: Vocabulary | None = None) -> list[Clip]:
    """The clips a manifest file lists, in its order; bad rows are reported (``warn``) and left out.

    Raises:
        DataError: the file cannot be read or is not UTF-8 text, a CSV header lacks ``video`` or ``text``, or no
            row is usable.
    """
    path = Path(path)
    text = read_text_file(path, "manifest", encoding="utf-8-sig")
    clips, bad = parse_manifest(text, path, vocabulary)
    if warn:
        for line, reason in bad:
            report_skipped(f"{path}:{line}", reason)
    if not clips:
        raise DataError(f"{path}: the manifest lists no usable clips ({counted(len(bad), 'bad row')})")
    return clips


def _lrs_video(txt: Path) -> Path | None:
    for ext in VIDEO_EXTENSIONS:
        for candidate in (txt.with_suffix(ext), txt.with_suffix(ext.upper())):
            if candidate.is_file():
                return candidate
    folder = txt.with_suffix("")
    return folder if is_frame_folder(folder) else None


_SHOWN_UNTRANSCRIBED = 5
"""Videos without a transcript named one by one before the rest are counted in one line."""


def _report_untranscribed(root: Path, transcripts: set[Path]) -> None:
    """Report the video files under the LRS-style folder ``root`` with none of ``transcripts`` beside them:
    they would be left out unsaid."""
    videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    bare = [v for v in videos if v.with_suffix(".txt") not in transcripts]
    for video in bare[:_SHOWN_UNTRANSCRIBED]:
        report_skipped(video, f"no transcript {video.with_suffix('.txt').name} beside it")
    if len(bare) > _SHOWN_UNTRANSCRIBED:
        more = counted(len(bare) - _SHOWN_UNTRANSCRIBED, "more video")
        report_skipped(root, f"{more} without a transcript beside them")


def find_lrs_clips(root: str | os.PathLike[str], warn: bool = True, vocabulary: Vocabulary | None = None) -> list[Clip]:
    """The clips of an LRS-style folder (see the module's description), sorted by path; ``[]`` when ``root``
    holds no ``.txt`` file with a video beside it. Transcripts that do not start with ``Text:``, and video
    files without a transcript beside them, are reported (``warn``) and left out."""
    root = Path(root)
    clips: list[Clip] = []
    transcripts = sorted(root.rglob("*.txt"))
    for txt in transcripts:
        video = _lrs_video(txt)
        if video is None or not txt.is_file():
            continue
        relative = txt.relative_to(root).with_suffix("")
        try:
            with open(txt, encoding="utf-8-sig") as f:
                first = f.readline()
        except UnicodeDecodeError as e:  # worded as every text file lipread reads words it
            if warn:
                report_skipped(f"{txt}:1", f"the transcript is not UTF-8 text (bad byte at offset {e.start})")
            continue
        except OSError as e:
            if warn:
                report_skipped(f"{txt}:1", f"cannot read the transcript: {e.strerror or e}")
            continue
        label, sep, said = first.partition(":")
        text = normalise_text(said, vocabulary)
        if not sep or label.strip().lower() != "text" or not text:
            if warn:
                report_skipped(f"{txt}:1", "the first line is not 'Text: <what is said>'")
            continue
        speaker = _speaker(relative.parent.name or None)  # a folder "4" or "s4" is speaker 4, as in a manifest
        key = _UNSAFE.sub("_", "_".join(relative.parts))
        clips.append(Clip(video, text, speaker, None, id=key, origin=f"{txt}:1"))
    if clips and warn:  # an LRS-style folder (not a GRID one with a stray note beside a video)
        _report_untranscribed(root, set(transcripts))
    return clips
