"""Indexing GRID layouts, the three splits, and the crop cache."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import numpy as np
import pytest

from lipread.config import get_preset
from lipread.data import dataset, grid
from lipread.data.dataset import Clip, CropCache, find_clips, split_clips
from lipread.errors import DataError, VideoError
from lipread.video.mouth import FixedCrop
from lipread.video.preprocess import load_clip, normalise


def _grid_names(n: int) -> list[str]:
    """The first ``n`` GRID clip names in grammar order (``bbaa1a``, ``bbaa1n``, ...)."""
    codes = [
        [w[0] for w in grid.COMMANDS],
        [w[0] for w in grid.COLOURS],
        [w[0] for w in grid.PREPOSITIONS],
        list(grid.LETTERS),
        ["z", *"123456789"],
        [w[0] for w in grid.ADVERBS],
    ]
    return ["".join(c) for c in itertools.islice(itertools.product(*codes), n)]


def _fake_tree(root: Path, speakers: tuple[int, ...], per_speaker: int) -> Path:
    """Shared-layout tree of empty GRID-named videos (enough for indexing and splitting, which decode nothing)."""
    for spk in speakers:
        folder = root / f"s{spk}"
        folder.mkdir(parents=True)
        for name in _grid_names(per_speaker):
            (folder / f"{name}.mpg").touch()
    return root


def test_shared_layout(grid_root: Path) -> None:
    clips = find_clips(grid_root)
    assert len(clips) == 900
    assert len({c.key for c in clips}) == 900
    assert all(c.speaker == 1 and c.video.suffix == ".mp4" for c in clips)
    assert all(c.alignment is not None and c.alignment.is_file() for c in clips)
    assert all(c.text == grid.sentence_from_name(c.name) for c in clips)
    first = clips[0]
    assert (first.name, first.key, first.text) == ("bbaf2n", "s1_bbaf2n", "bin blue at f two now")
    assert len(find_clips(grid_root, speakers=[1])) == 900
    with pytest.raises(DataError, match="no GRID clips found"):
        find_clips(grid_root, speakers=[2])


def test_official_layout(tmp_path: Path, grid_root: Path) -> None:
    for spk, names in ((3, ["bbaf2n", "bbaf3s"]), (12, ["bbaf4p"])):
        video_dir = tmp_path / f"s{spk}" / "video" / "mpg_6000"
        align_dir = tmp_path / f"s{spk}" / "align"
        video_dir.mkdir(parents=True)
        align_dir.mkdir(parents=True)
        for name in names:
            os.symlink(grid_root / "s1" / f"{name}.mp4", video_dir / f"{name}.mpg")
            if name != "bbaf3s":
                os.symlink(grid_root / "alignments" / "s1" / f"{name}.align", align_dir / f"{name}.align")
    clips = find_clips(tmp_path)
    assert [(c.speaker, c.name) for c in clips] == [(3, "bbaf2n"), (3, "bbaf3s"), (12, "bbaf4p")]
    assert clips[0].alignment == tmp_path / "s3" / "align" / "bbaf2n.align"
    assert clips[1].alignment is None and clips[1].text == "bin blue at f three soon"  # from the name
    assert clips[2].text == "bin blue at f four please"
    assert [c.name for c in find_clips(tmp_path, speakers=[12])] == ["bbaf4p"]


def test_plain_folder_and_bad_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("bbaf2n.mpg", "lgbm4p.mp4", "holiday.mp4", "notes.txt"):
        (tmp_path / name).touch()
    (tmp_path / "lgbm4p.align").write_text("0 10 sil\n10 5 lay\n")
    clips = find_clips(tmp_path)
    assert [(c.name, c.speaker, c.text) for c in clips] == [("bbaf2n", None, "bin blue at f two now")]
    err = capsys.readouterr().err
    assert "holiday.mp4: skipped" in err and "lgbm4p.mp4: skipped" in err and "end 5 is before start 10" in err


def test_a_folder_of_clips_none_of_which_can_be_used_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Not the layout hint: the layout was found, and each clip is reported with its own reason."""
    (tmp_path / "s1").mkdir()
    (tmp_path / "alignments" / "s1").mkdir(parents=True)
    for name in ("bbaf2n", "lgbm4p"):
        (tmp_path / "s1" / f"{name}.mp4").touch()
        (tmp_path / "alignments" / "s1" / f"{name}.align").write_text("garbage\n")
    with pytest.raises(DataError, match=r"none of its 2 clips could be used \(each said above\)$"):
        find_clips(tmp_path)
    assert capsys.readouterr().err.count(": skipped: ") == 2


def test_a_plain_folder_of_other_videos_gets_the_layout_hint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("holiday.mp4", "party.mp4"):  # no GRID names, no speaker folders: maybe the wrong layout
        (tmp_path / name).touch()
    with pytest.raises(DataError, match="no GRID clips found"):
        find_clips(tmp_path)


def test_no_clips(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data folder not found"):
        find_clips(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no GRID clips found"):
        find_clips(tmp_path)


def test_random_split(grid_root: Path) -> None:
    clips = find_clips(grid_root)
    train, val = split_clips(clips)
    assert (len(train), len(val)) == (810, 90)
    assert not {c.key for c in train} & {c.key for c in val}
    assert {c.key for c in train} | {c.key for c in val} == {c.key for c in clips}
    again = split_clips(list(reversed(clips)))  # depends on names and seed, not on the order given
    assert again == (train, val)
    _, other_val = split_clips(clips, seed=1)
    assert other_val != val and len(other_val) == 90
    assert len(split_clips(clips, val_fraction=0.2)[1]) == 180


def test_unseen_split(tmp_path: Path) -> None:
    clips = find_clips(_fake_tree(tmp_path, (1, 2, 3, 20, 22, 23), 5))
    train, val = split_clips(clips, "unseen")
    assert {c.speaker for c in val} == {1, 2, 20, 22} and len(val) == 20
    assert {c.speaker for c in train} == {3, 23} and len(train) == 10


def test_overlapped_split(tmp_path: Path) -> None:
    clips = find_clips(_fake_tree(tmp_path, (4, 5, 6), 300))
    assert len(clips) == 900
    train, val = split_clips(clips, "overlapped")
    for spk in (4, 5, 6):
        assert sum(c.speaker == spk for c in val) == 255
        assert sum(c.speaker == spk for c in train) == 45
    assert not {c.key for c in train} & {c.key for c in val}
    assert split_clips(clips, "overlapped") == (train, val)


def test_a_part_after_the_end_of_its_video_is_named(tmp_path: Path, grid_clip: Path) -> None:
    cache = CropCache(tmp_path, get_preset("lipnet-notebook"))
    late = Clip(grid_clip, "now", 1, start=10.0, end=12.0, id="late")  # the clip is 3 s long
    with pytest.raises(VideoError) as caught:
        cache.get(late)
    assert str(caught.value) == f"{grid_clip}: the part from 10 s to 12 s: no frames there (the video ends before it)"
    whole = Clip(grid_clip.parent / "missing.mp4", "now", 1)  # a whole video's errors stay as they are
    with pytest.raises(VideoError, match=r"missing\.mp4: video file not found$"):
        cache.get(whole)


def test_bad_splits() -> None:
    clips = [Clip(Path(f"{n}.mpg"), grid.sentence_from_name(n), 1) for n in _grid_names(4)]
    with pytest.raises(DataError, match="unknown split 'diagonal'"):
        split_clips(clips, "diagonal")
    with pytest.raises(DataError, match=r"leaves 0 for training and 4 for validation$"):  # no hint: none would help
        split_clips(clips, "unseen")
    with pytest.raises(DataError, match="leaves 4 for training and 0 for validation; train on every clip with --val"):
        split_clips(clips[:4], "random", val_fraction=0.1)  # a tenth of 4 rounds to none


def test_crop_cache(tmp_path: Path, grid_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = get_preset("lipnet-notebook")
    clip = Clip(grid_clip, "bin blue at f two now", 1)
    cache = CropCache(tmp_path, config)
    crops = cache.get(clip)
    assert crops.dtype == np.uint8 and crops.shape == (75, 46, 140, 1)
    assert cache.path(clip).parent == tmp_path / "fixed-notebook-46x140x1-luma"
    assert re.fullmatch(r"s1_bbaf2n-[0-9a-f]{8}\.npy", cache.path(clip).name)
    assert cache.path(clip).is_file()
    # the crops the model is trained on are the ones load_clip standardises
    np.testing.assert_array_equal(normalise(crops), load_clip(grid_clip, config))

    def no_decoding(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("the cached clip was decoded again")

    monkeypatch.setattr(dataset, "load_crops", no_decoding)
    np.testing.assert_array_equal(CropCache(tmp_path, config).get(clip), crops)
    # another preprocessing gets its own folder, so it never reads these crops
    assert CropCache(tmp_path, get_preset("lipnet"), FixedCrop()).path(clip).parent.name == "fixed-lipnet-50x100x3"


def test_crop_cache_recovers_from_a_damaged_file(tmp_path: Path, grid_clip: Path) -> None:
    cache = CropCache(tmp_path, get_preset("lipnet-notebook"))
    clip = Clip(grid_clip, "bin blue at f two now", 1)
    cache.path(clip).write_bytes(b"not numpy")
    assert cache.get(clip).shape == (75, 46, 140, 1)


def test_crop_cache_fill_reports_bad_clips(tmp_path: Path, grid_clip: Path) -> None:
    broken = tmp_path / "bbaf3s.mp4"
    broken.write_text("not a video")
    good = Clip(grid_clip, "bin blue at f two now", 1)
    bad = Clip(broken, "bin blue at f three soon", 1)
    done: list[int] = []
    usable, failed = CropCache(tmp_path / "cache", get_preset("lipnet")).fill([good, bad], progress=done.append)
    assert usable == [good]
    assert [(c, "cannot decode" in reason) for c, reason in failed] == [(bad, True)]
    assert done == [1, 1]
    with pytest.raises(VideoError):
        CropCache(tmp_path / "cache", get_preset("lipnet")).get(bad)


def test_crops_are_kept_per_video_file(tmp_path: Path, grid_root: Path) -> None:
    """Two data sets with a clip of the same name (a shared cache), or a video recorded again under its old
    name, never read each other's crops; a video that is not there at all (a cache unpacked on a machine
    without the videos) is looked up by its key alone."""
    import shutil

    config = get_preset("lipnet-notebook")
    cache = CropCache(tmp_path / "cache", config)
    paths = []
    for project, source in (("a", "bbaf2n"), ("b", "bbaf3s")):
        (tmp_path / project).mkdir()
        paths.append(shutil.copy(grid_root / "s1" / f"{source}.mp4", tmp_path / project / "clip.mp4"))
    first, second = (Clip(Path(p), "bin blue at f two now", None, id="clip") for p in paths)
    assert cache.path(first) != cache.path(second)
    assert not np.array_equal(cache.get(first), cache.get(second))
    before = cache.path(first)
    os.utime(first.video, ns=(0, 10**18))  # recorded again: another modification time
    assert cache.path(first) != before
    gone = Clip(tmp_path / "missing" / "clip.mp4", "bin blue at f two now", None, id="clip")
    assert cache.path(gone) == cache.folder / "clip.npy"
