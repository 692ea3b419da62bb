"""Indexing GRID-style data sets, splitting them, and caching decoded mouth crops on disk.

Layouts understood by :func:`find_clips`:

- the shared layout: ``<root>/s<N>/*.mp4|*.mpg`` with ``<root>/alignments/s<N>/*.align``;
- the official corpus layout: ``<root>/s<N>/video/mpg_6000/*.mpg`` with ``<root>/s<N>/align/*.align``;
- a plain folder of videos whose GRID names spell their sentences (``bbaf2n.mpg``), with or without
  ``.align`` files beside them;
- a manifest file (CSV or JSON Lines: ``video``, ``text``, optional ``start``/``end`` seconds and ``speaker``),
  see :mod:`lipread.data.manifest`;
- an LRS-style folder: ``clip.mp4`` beside ``clip.txt`` whose first line is ``Text: ...``, at any depth.

Wherever a GRID layout has a video file it may have a frame folder instead (a folder of numbered images,
:func:`lipread.video.reader.is_frame_folder`): ``<root>/s4/bbie7p/1.jpg ...`` with
``<root>/alignments/s4/bbie7p.align``, as in the shared ``grid/faces``.

A GRID clip's text comes from its alignment when there is one, else from its GRID file name.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import warnings
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import ModelConfig
from ..errors import DataError, LipreadError, VideoError
from ..report import counted, report_skipped
from ..video.mouth import MouthLocator
from ..video.preprocess import decodes_grey, default_locator, load_crops
from ..video.reader import VIDEO_EXTENSIONS, frame_rate, is_frame_folder
from ..vocab import Vocabulary
from .align import load_alignment
from .grid import UNSEEN_SPEAKERS, WORDS, sentence_from_name

__all__ = ["Clip", "CropCache", "find_clips", "split_clips"]

_SPEAKER_DIR = re.compile(r"^s(\d+)$")


@dataclass(frozen=True)
class Clip:
    """One training or evaluation example: a video (a file or a frame folder), its sentence and where it
    came from.

    ``start`` and ``end`` (seconds; None: the video's start and end) cut the clip out of a longer video, as a
    manifest's rows do; :meth:`frame_span` turns them into frames. ``id`` replaces the default :attr:`key`
    (manifests and LRS folders set one), ``origin`` is where the clip was listed (``"list.csv:12"``) for
    reports. A GRID speaker is a number; other data sets' speakers may be any text.
    """

    video: Path
    text: str
    speaker: int | str | None = None
    alignment: Path | None = None
    start: float | None = None
    end: float | None = None
    id: str | None = None
    origin: str | None = None

    @property
    def name(self) -> str:
        """The file stem (or frame folder name), e.g. ``"bbaf2n"``."""
        return self.video.stem

    @property
    def key(self) -> str:
        """A unique, file-name-safe id: ``s1_bbaf2n`` (or the stem when the speaker is unknown, or :attr:`id`)."""
        if self.id is not None:
            return self.id
        return f"s{self.speaker}_{self.name}" if self.speaker is not None else self.name

    def frame_span(self, fps: float | None = None) -> tuple[int, int | None]:
        """``(first frame, frame count)`` of the clip in its video (``(0, None)``: all of it), from
        :attr:`start` and :attr:`end` at ``fps`` (default: the rate the video file states, 25 for a frame
        folder); at least one frame."""
        if self.start is None and self.end is None:
            return 0, None
        rate = fps or frame_rate(self.video)
        first = round((self.start or 0.0) * rate)
        if self.end is None:
            return first, None
        return first, max(1, round(self.end * rate) - first)

    def short_part_note(self, frames: int, count: int) -> str:
        """What to say when the part :meth:`frame_span` asked ``count`` frames of gave only ``frames`` (its
        :attr:`end` lies after the video's)."""
        return (
            f"the part from {self.start or 0:g} s to {self.end:g} s ends after the video, which holds only {frames} "
            f"of its {count} frames"
        )

    def part_error(self, error: VideoError) -> VideoError:
        """``error``, raised reading the part :attr:`start` and :attr:`end` cut, reworded to name the file and
        the part (a part after the video's end decodes to nothing, which alone reads like a damaged file)."""
        part = f"the part from {self.start or 0:g} s to " + ("its end" if self.end is None else f"{self.end:g} s")
        text = str(error).removeprefix("<frames>: ").removeprefix(f"{self.video}: ")
        if self.start and text == "no frames could be decoded":
            text = "no frames there (the video ends before it)"
        return VideoError(f"{self.video}: {part}: {text}")


def _videos_in(folder: Path) -> list[Path]:
    """The video files and frame folders in ``folder``, sorted."""
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS) or (p.is_dir() and is_frame_folder(p))
    )


def _make_clip(
    video: Path, align: Path | None, speaker: int | None, problems: list[tuple[Path, Exception]]
) -> Clip | None:
    try:
        if align is not None and align.exists():
            return Clip(video, load_alignment(align, WORDS).sentence, speaker, align)
        return Clip(video, sentence_from_name(video.stem), speaker, None)
    except (LipreadError, ValueError) as e:
        problems.append((video, e))
        return None


def find_clips(
    root: str | os.PathLike[str],
    speakers: Sequence[int | str] | None = None,
    warn: bool = True,
    vocabulary: Vocabulary | None = None,
) -> list[Clip]:
    """Every clip under ``root`` in one of the supported layouts, sorted by speaker and name (a manifest's
    clips stay in its order).

    Args:
        root: the data folder, or a manifest file (``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``).
        speakers: keep only these speakers (None: all).
        warn: print clips that were skipped (no text could be found, a bad manifest row) to stderr, once each.
        vocabulary: when given, clips whose text has a character it cannot encode are skipped (and reported),
            and manifest and LRS texts are normalised for it (:func:`lipread.data.manifest.normalise_text`).

    Raises:
        DataError: ``root`` is missing or holds no clips; a manifest that cannot be read.
    """
    from .manifest import MANIFEST_SUFFIXES, find_lrs_clips, read_manifest

    root = Path(root)
    if root.is_file() and root.suffix.lower() in MANIFEST_SUFFIXES:
        return _keep(read_manifest(root, warn, vocabulary), speakers, warn, vocabulary)
    if not root.is_dir():
        if root.is_file():
            raise DataError(
                f"{root}: not a data folder or a manifest (a manifest ends in {', '.join(MANIFEST_SUFFIXES)})"
            )
        what = "manifest" if root.suffix.lower() in MANIFEST_SUFFIXES else "data folder"
        raise DataError(f"{root}: {what} not found")
    lrs = find_lrs_clips(root, warn, vocabulary)  # transcripts beside the videos say what is said, in any layout
    if lrs:  # (speaker folders named s1, s2, ... included: the GRID layout would read sentences from file names)
        return _keep(lrs, speakers, warn, vocabulary)
    clips: list[Clip] = []
    problems: list[tuple[Path, Exception]] = []
    speaker_dirs = sorted(
        (int(m.group(1)), d) for d in root.iterdir() if d.is_dir() and (m := _SPEAKER_DIR.match(d.name))
    )
    for spk, d in speaker_dirs:
        if speakers is not None and spk not in speakers:
            continue
        official = d / "video" / "mpg_6000"
        if official.is_dir():
            for v in _videos_in(official):
                clip = _make_clip(v, d / "align" / f"{v.stem}.align", spk, problems)
                if clip:
                    clips.append(clip)
        else:
            for v in _videos_in(d):
                clip = _make_clip(v, root / "alignments" / d.name / f"{v.stem}.align", spk, problems)
                if clip:
                    clips.append(clip)
    if not speaker_dirs:
        for v in _videos_in(root):
            clip = _make_clip(v, v.with_suffix(".align"), None, problems)
            if clip:
                clips.append(clip)
    if warn:
        for video, e in problems:
            report_skipped(video, e)
    found = len(clips) + len(problems) if speaker_dirs else 0
    clips = _keep(clips, None, warn, vocabulary)
    if not clips and found:  # GRID's speaker folders are there: each clip was left out for a reason of its own
        raise DataError(f"{root}: none of its {counted(found, 'clip')} could be used" + " (each said above)" * warn)
    if not clips:
        raise DataError(
            f"{root}: no GRID clips found (expected s<N>/*.mp4 or frame folders s<N>/<clip>/ with "
            "alignments/s<N>/*.align, s<N>/video/mpg_6000/*.mpg with s<N>/align/*.align, GRID-named videos, "
            "or an LRS-style folder of clip.mp4 with clip.txt)"
        )
    return clips


def _keep(
    clips: list[Clip], speakers: Sequence[int | str] | None, warn: bool, vocabulary: Vocabulary | None
) -> list[Clip]:
    """``clips`` of ``speakers`` (None: all) whose text ``vocabulary`` can spell (None: any); the others that
    the vocabulary cannot spell are reported (by where they were listed) when ``warn``."""
    out = []
    for clip in clips:
        if speakers is not None and clip.speaker not in speakers:
            continue
        if vocabulary is not None:
            try:
                vocabulary.encode(clip.text)
            except ValueError as e:
                if warn:
                    report_skipped(clip.origin or clip.video, e)
                continue
        out.append(clip)
    return out


def split_clips(
    clips: Sequence[Clip],
    split: str = "random",
    val_fraction: float = 0.1,
    seed: int = 0,
    overlapped_per_speaker: int = 255,
) -> tuple[list[Clip], list[Clip]]:
    """Split clips into (train, validation).

    Args:
        split: ``"random"``: a fixed, seeded random ``val_fraction`` of the clips (sorted by key first, so
            the split depends only on the file names and the seed; the default seed 0 and fraction 0.1 hold
            out 90 of GRID speaker 1's 900 clips).
            ``"unseen"``: LipNet's unseen-speaker split, speakers 1, 2, 20 and 22 held out.
            ``"overlapped"``: LipNet's overlapped-speaker split, ``overlapped_per_speaker`` (255) random clips
            of every speaker held out.
        val_fraction: the share of clips ``"random"`` holds out, in [0, 1].
        seed: seeds the ``"random"`` and ``"overlapped"`` draws.
        overlapped_per_speaker: clips of each speaker ``"overlapped"`` holds out.

    Returns:
        ``(train, validation)``: two disjoint lists that together hold every clip.

    Raises:
        DataError: unknown split, or a split that leaves one side empty.
    """
    ordered = sorted(clips, key=lambda c: c.key)
    rng = np.random.default_rng(seed)
    if split == "random":
        n_val = round(len(ordered) * val_fraction)
        order = rng.permutation(len(ordered))
        val_idx = set(order[:n_val].tolist())
        val = [c for i, c in enumerate(ordered) if i in val_idx]
        train = [c for i, c in enumerate(ordered) if i not in val_idx]
    elif split == "unseen":
        val = [c for c in ordered if c.speaker in UNSEEN_SPEAKERS]
        train = [c for c in ordered if c.speaker not in UNSEEN_SPEAKERS]
    elif split == "overlapped":
        by_speaker: dict[int | str | None, list[Clip]] = {}
        for c in ordered:
            by_speaker.setdefault(c.speaker, []).append(c)
        val, train = [], []
        for spk in sorted(by_speaker, key=_speaker_order):
            group = by_speaker[spk]
            order = rng.permutation(len(group))
            held = set(order[:overlapped_per_speaker].tolist())
            val += [c for i, c in enumerate(group) if i in held]
            train += [c for i, c in enumerate(group) if i not in held]
    else:
        raise DataError(f"unknown split {split!r}; use 'random', 'unseen' or 'overlapped'")
    if split == "unseen" and not val:  # LipNet's held-out speakers are GRID's: another data set has none of them
        found = sorted({c.speaker for c in ordered}, key=_speaker_order)
        shown = ", ".join("none" if s is None else str(s) for s in found[:8]) + (", ..." if len(found) > 8 else "")
        raise DataError(
            f"split 'unseen' holds out GRID speakers {', '.join(map(str, sorted(UNSEEN_SPEAKERS)))}, and none of "
            f"the {len(ordered)} clips is theirs (speakers: {shown}); use --split random, or give the speakers to "
            "hold out those numbers"
        )
    if not train or (val_fraction > 0 and split == "random" and not val and len(ordered) > 1):
        hint = "; train on every clip with --val-fraction 0, or hold out more with a larger one"
        raise DataError(
            f"split {split!r} of {len(ordered)} clips leaves {len(train)} for training and {len(val)} for validation"
            + (hint if train and not val else "")
        )
    return train, val


def _speaker_order(speaker: int | str | None) -> tuple[int, int, str]:
    """Sort key of speakers: unknown first, then numbers, then names."""
    if speaker is None:
        return 0, 0, ""
    return (1, speaker, "") if isinstance(speaker, int) else (2, 0, speaker)


class CropCache:
    """Decoded mouth crops (``uint8 (T, H, W, C)``) stored once per clip as ``.npy`` files.

    The cache folder is keyed by the locator and the model's input size and colour, so models with other
    preprocessing never see stale crops. Files are written atomically.
    """

    def __init__(
        self, folder: str | os.PathLike[str], config: ModelConfig, locator: MouthLocator | None = None
    ) -> None:
        self.config = config
        self.locator = locator or default_locator(config)
        key = f"{self.locator.name}-{config.crop}-{config.height}x{config.width}x{config.channels}"
        if decodes_grey(config, self.locator):
            key += "-luma"  # the video's own grey plane (see lipread.video.preprocess.decodes_grey)
        self.folder = Path(folder) / key
        self.writable = True
        """False once a write failed (a full disk, no permission): crops are then decoded each time, not stored."""
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._stop_writing(e)

    def _stop_writing(self, error: OSError) -> None:
        """Stop storing crops after a failed write, with one warning: the work goes on without the cache."""
        with self._lock:
            if not self.writable:
                return
            self.writable = False
        reason = error.strerror or str(error)
        warnings.warn(
            f"{self.folder}: cannot write the crop cache ({reason}); going on without it (clips are decoded "
            "each time they are needed)",
            RuntimeWarning,
            stacklevel=3,
        )

    def path(self, clip: Clip) -> Path:
        """Where ``clip``'s crops are stored (it may not exist yet).

        ``<cache>/<locator>-<crop>-<H>x<W>x<C>[-luma]/<clip.key>-<file>.npy``, the middle folder being
        :attr:`folder`'s name (``-luma`` when the crops are the videos' own grey plane, see
        :func:`lipread.video.preprocess.decodes_grey`). ``<file>`` is a checksum of the video's resolved path,
        size and modification time: two data sets with a ``clip.mp4`` each, or a video recorded again under its
        old name, never share crops. A frame folder's crops are ``<clip.key>-<file>-frames.npy``; a clip cut
        from a longer video has the cut in its key (see :mod:`lipread.data.manifest`). Where the video is not
        there at all (a cache unpacked on another machine by ``tools/pack_crops.py``), ``<clip.key>.npy``.
        """
        video = clip.video
        try:
            info = video.stat()
        except OSError:  # no video to read: the crops of a packed cache, or get() reports why
            return self.folder / f"{clip.key}.npy"
        where = os.fsencode(video.resolve()) + f"|{info.st_size}:{info.st_mtime_ns}".encode()
        file = f"{zlib.crc32(where):08x}"
        if video.is_dir():
            return self.folder / f"{clip.key}-{file}-frames.npy"
        return self.folder / f"{clip.key}-{file}.npy"

    def get(self, clip: Clip) -> np.ndarray:
        """The clip's crops ``uint8 (T, H, W, C)`` at the config's size, decoded and stored on first use.

        Raises:
            VideoError: the video cannot be decoded or its mouth cannot be located.
        """
        p = self.path(clip)
        if p.exists():
            try:
                return np.load(p, allow_pickle=False)
            except (ValueError, OSError, EOFError):
                p.unlink(missing_ok=True)
        start, count = clip.frame_span()
        try:
            crops = load_crops(clip.video, self.config, self.locator, start, count)
        except VideoError as e:
            if clip.start is None and clip.end is None:
                raise
            raise clip.part_error(e) from None
        if count is not None and len(crops) < count:  # an end past the video's: the part is shorter than its row
            note = clip.short_part_note(len(crops), count)
            warnings.warn(f"{clip.origin or clip.video}: {note}", RuntimeWarning, stacklevel=2)
        if not self.writable:
            return crops
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.save(f, crops, allow_pickle=False)
            os.replace(tmp, p)
        except OSError as e:  # e.g. a full disk: leave no partial file, and go on without the cache
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._stop_writing(e)
        return crops

    def fill(
        self, clips: Sequence[Clip], workers: int = 2, progress: Callable[[int], None] | None = None
    ) -> tuple[list[Clip], list[tuple[Clip, str]]]:
        """Decode every clip not yet cached (in ``workers`` threads).

        Returns:
            (the clips that are usable, [(clip, reason)] for the broken ones, each reported once).
        """

        def one(clip: Clip) -> str | None:
            try:
                self.get(clip)
                return None
            except LipreadError as e:
                return str(e)

        good: list[Clip] = []
        bad: list[tuple[Clip, str]] = []
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for clip, err in zip(clips, pool.map(one, clips)):
                if err is None:
                    good.append(clip)
                else:
                    bad.append((clip, err))
                if progress is not None:
                    progress(1)
        return good, bad
