"""Download the GRID corpus's published archives and unpack them into a folder ``lipread train`` reads.

GRID (Cooke, Barker, Cunningham and Shao, 2006; Creative Commons Attribution 4.0) is published in two places,
with different archives (:data:`SOURCES`):

- **zenodo** (the default), record 10.5281/zenodo.3625687, <https://zenodo.org/records/3625687>: one
  ``s<N>.zip`` per speaker with its 1000 normal-quality MPEG-1 clips (360x288, 25 fps) under ``s<N>/``, and
  one ``alignments.zip`` with every speaker's word alignments under ``alignments/s<N>/``.
- **sheffield**, the corpus's own page <https://spandh.dcs.shef.ac.uk/gridcorpus/>: per speaker, the
  normal-quality video ``s<N>/video/s<N>.mpg_vcd.zip``, the high-quality video (720x576) in two parts
  ``s<N>/video/s<N>.mpg_6000.part1.tar`` and ``.part2.tar``, and the alignments ``s<N>/align/s<N>.tar``.

Whatever the source, :func:`download_grid` writes one layout, the one :func:`lipread.data.dataset.find_clips`
reads: ``DEST/s<N>/<name>.mpg`` and ``DEST/alignments/s<N>/<name>.align``. Archives are kept under
``DEST/.downloads`` while they download (so a second run resumes them) and deleted once unpacked, unless asked
to keep them; a small ``<archive>.unpacked`` note there tells a second run that an archive is done.

No sizes or SHA-256 checksums of the published archives ship with lipread (:data:`PUBLISHED` is empty): none
were at hand that could be checked against the files, and a made-up one would reject the real archive. So
each download is checked against the size the server announces, and each archive by reading every member
(a zip archive checks each member's CRC-32 as it is read); ``checksums`` (``lipread data --checksums FILE``)
adds SHA-256 checks from a ``sha256sum`` file of your own.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import ArgumentError, DataError
from ..report import report_warning
from ..video.reader import VIDEO_EXTENSIONS
from .download import Expected, fetch
from .grid import SPEAKERS

__all__ = [
    "DOWNLOADS",
    "PUBLISHED",
    "QUALITIES",
    "SOURCES",
    "Archive",
    "GridSummary",
    "archives",
    "download_grid",
    "parse_speakers",
    "unpack",
]

SOURCES: dict[str, str] = {
    "zenodo": "https://zenodo.org/records/3625687/files",
    "sheffield": "https://spandh.dcs.shef.ac.uk/gridcorpus",
}
"""The places GRID is published, by name: the base URL each archive's path is appended to."""

QUALITIES: dict[str, tuple[str, ...]] = {"zenodo": ("normal",), "sheffield": ("normal", "high")}
"""The video qualities each source publishes: ``normal`` (360x288 MPEG-1) and ``high`` (720x576)."""

PUBLISHED: dict[str, Expected] = {}
"""Known size and SHA-256 of each published archive, by local file name. Empty: none are shipped (see the
module's text); an entry added here is checked on every download of that file."""

DOWNLOADS = ".downloads"
"""The folder under the destination that holds archives while they download, and the notes of unpacked ones."""

NO_VIDEO = frozenset({21})
"""Speakers whose video GRID never published (speaker 21)."""


@dataclass(frozen=True)
class Archive:
    """One file to download.

    Attributes:
        path: its path under the source's base URL.
        name: the local file name (unique within a download).
        speaker: the speaker whose files it holds; None: several (Zenodo's ``alignments.zip``).
    """

    path: str
    name: str
    speaker: int | None


@dataclass(frozen=True)
class GridSummary:
    """What a download left in its destination, for the requested speakers: clips and alignment files."""

    dest: Path
    speakers: tuple[int, ...]
    videos: int
    alignments: int


def parse_speakers(text: str) -> tuple[int, ...]:
    """Speaker numbers from ``"1-34"``, ``"1,3,5-7"`` or ``"s2"`` (sorted, without repeats).

    Raises:
        ArgumentError: not numbers and ranges, a range that runs backwards, or a speaker outside 1-34.
    """
    found: set[int] = set()
    for item in text.replace(" ", "").split(","):
        match = re.fullmatch(r"s?(\d+)(?:-s?(\d+))?", item)
        if not match:
            raise ArgumentError(f"--speakers: {item!r} is not a speaker number or range like 1-34")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            raise ArgumentError(f"--speakers: the range {item} runs backwards")
        for speaker in range(first, last + 1):
            if not 1 <= speaker <= max(SPEAKERS):
                raise ArgumentError(f"--speakers: GRID has speakers 1 to {max(SPEAKERS)}, not {speaker}")
            found.add(speaker)
    return tuple(sorted(found))


def archives(source: str, quality: str, speakers: Sequence[int]) -> list[Archive]:
    """The archives that hold the video (of ``quality``) and the alignments of ``speakers`` at ``source``.

    Raises:
        ArgumentError: an unknown source, or a quality the source does not publish.
    """
    if source not in SOURCES:
        raise ArgumentError(f"--source: unknown source {source!r}; known: {', '.join(SOURCES)}")
    if quality not in QUALITIES[source]:
        others = [s for s, q in QUALITIES.items() if quality in q]
        raise ArgumentError(
            f"--quality: {source} publishes no {quality}-quality video"
            + (f"; use --source {others[0]}" if others else "")
        )
    files: list[Archive] = []
    for n in speakers:
        if n in NO_VIDEO:
            continue
        if source == "zenodo":
            files.append(Archive(f"s{n}.zip", f"s{n}.zip", n))
        elif quality == "normal":
            files.append(Archive(f"s{n}/video/s{n}.mpg_vcd.zip", f"s{n}.mpg_vcd.zip", n))
        else:
            files += [Archive(f"s{n}/video/s{n}.mpg_6000.part{p}.tar", f"s{n}.mpg_6000.part{p}.tar", n) for p in (1, 2)]
        if source == "sheffield":
            files.append(Archive(f"s{n}/align/s{n}.tar", f"s{n}.align.tar", n))
    if source == "zenodo" and any(n not in NO_VIDEO for n in speakers):
        files.append(Archive("alignments.zip", "alignments.zip", None))
    return files


def _members(archive: Path) -> Iterator[tuple[PurePosixPath, IO[bytes]]]:
    """Each regular file of a zip or tar archive: its path inside and an open stream of its bytes."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    with z.open(info) as stream:
                        yield PurePosixPath(info.filename.replace("\\", "/")), stream
        return
    with tarfile.open(archive) as t:
        for member in t:
            data = t.extractfile(member) if member.isfile() else None
            if data is not None:
                with data:
                    yield PurePosixPath(member.name), data


def _target(inner: PurePosixPath, archive: Archive, dest: Path, wanted: frozenset[int]) -> Path | None:
    """Where a member of an archive goes in the layout, by its name alone (never by its folders, so no member
    can write outside ``dest``); None: not a clip or alignment of a wanted speaker."""
    name = inner.name
    suffix = PurePosixPath(name).suffix.lower()
    # GRID's clip names are six letters and digits; a mirror may hold the clips re-encoded (.mp4)
    if not re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+", name) or suffix not in (*VIDEO_EXTENSIONS, ".align"):
        return None
    speaker = archive.speaker
    if speaker is None:  # one archive for every speaker: the speaker is the folder the file is in
        match = re.fullmatch(r"s(\d+)", inner.parent.name)
        speaker = int(match.group(1)) if match else None
    if speaker is None or speaker not in wanted:
        return None
    if suffix != ".align":
        return dest / f"s{speaker}" / name
    return dest / "alignments" / f"s{speaker}" / name


def unpack(file: Path, archive: Archive, dest: Path, speakers: Sequence[int]) -> int:
    """Write the clips and alignments of ``speakers`` in ``file`` into the layout under ``dest``; returns how
    many files were written. Each is written under a temporary name and renamed, so an interrupted unpack
    leaves no half file.

    Raises:
        DataError: ``file`` is not a readable zip or tar archive, or a member is damaged (CRC mismatch).
    """
    wanted = frozenset(speakers)
    written = 0
    try:
        for inner, stream in _members(file):
            target = _target(inner, archive, dest, wanted)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".tmp")
            with open(temporary, "wb") as out:
                shutil.copyfileobj(stream, out)
            os.replace(temporary, target)
            written += 1
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise DataError(f"{file}: damaged archive ({e}); delete it and run again to download it anew") from None
    return written


def _count(dest: Path, speakers: Sequence[int]) -> tuple[int, int]:
    videos = sum(sum(1 for p in (dest / f"s{n}").glob("*") if p.suffix.lower() in VIDEO_EXTENSIONS) for n in speakers)
    aligns = sum(len(list((dest / "alignments" / f"s{n}").glob("*.align"))) for n in speakers)
    return videos, aligns


def download_grid(
    dest: Path,
    speakers: Sequence[int],
    *,
    quality: str = "normal",
    source: str = "zenodo",
    mirror: str | None = None,
    checksums: Mapping[str, Expected] | None = None,
    keep_archives: bool = False,
    retries: int = 2,
    progress: bool | None = None,
) -> GridSummary:
    """Download and unpack the video and alignments of GRID ``speakers`` into ``dest``.

    Archives already unpacked by an earlier call are skipped, and one whose download was cut off is resumed.

    Args:
        dest: the data folder to fill (created).
        speakers: speaker numbers, 1 to 34 (21 has no video and is skipped with a warning).
        quality: ``normal`` or ``high`` (:data:`QUALITIES` says which source has which).
        source: which publisher's archives to fetch (:data:`SOURCES`).
        mirror: a base URL that replaces the source's (a copy of its files in the same paths).
        checksums: size and SHA-256 by archive file name, on top of :data:`PUBLISHED`.
        keep_archives: keep each archive under ``dest/.downloads`` after unpacking it.
        retries: further attempts for a transfer that is cut off.
        progress: progress bars: True, False or None (only on a terminal).

    Raises:
        ArgumentError: a bad source, quality or speaker. DataError: a download or an archive failed (the
            message names the URL or file); what was done before stays done.
    """
    if NO_VIDEO & set(speakers):
        if not set(speakers) - NO_VIDEO:
            raise ArgumentError("--speakers: GRID published no video of speaker 21, and no other speaker is asked for")
        report_warning("GRID published no video of speaker 21; skipped", "--speakers")
    files = archives(source, quality, speakers)
    base = (mirror or SOURCES[source]).rstrip("/")
    store = dest / DOWNLOADS
    known = {**PUBLISHED, **(checksums or {})}
    # Zenodo's own links end in ?download=1 (the file itself, not its preview page); a mirror gets bare paths
    query = "?download=1" if source == "zenodo" and mirror is None else ""
    for archive in files:
        note = store / f"{archive.name}.unpacked"
        # a note holds the speakers unpacked from the archive: all of one speaker's, or some of a shared one's
        done = _unpacked(note)
        needed = tuple(n for n in speakers if n not in done) if archive.speaker is None else ()
        if done and not needed:
            continue
        url = f"{base}/{archive.path}{query}"
        file = fetch(url, store / archive.name, known.get(archive.name), retries=retries, progress=progress)
        covered = needed if archive.speaker is None else (archive.speaker,)
        written = unpack(file, archive, dest, covered)
        if written == 0:
            raise DataError(f"{url}: the archive holds no GRID clips or alignments of speakers {_ranges(covered)}")
        note.write_text(_ranges(sorted({*done, *covered})) + "\n", encoding="utf-8")
        if not keep_archives:
            file.unlink()
    wanted = tuple(n for n in speakers if n not in NO_VIDEO)
    return GridSummary(dest, wanted, *_count(dest, wanted))


def _unpacked(note: Path) -> tuple[int, ...]:
    """The speakers an archive's note says were unpacked from it; () when there is no readable note."""
    try:
        return parse_speakers(note.read_text(encoding="utf-8").strip())
    except (OSError, ArgumentError):
        return ()


def _ranges(speakers: Sequence[int]) -> str:
    """``1-3,5`` for 1, 2, 3, 5."""
    parts: list[str] = []
    for n in sorted(speakers):
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return ",".join(parts)
