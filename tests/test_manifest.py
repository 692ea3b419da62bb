"""Your own data set: manifests (CSV, JSON Lines) with start/end cuts and bad rows, and LRS-style folders."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipread.cli.app import main
from lipread.config import get_preset
from lipread.data.dataset import Clip, CropCache, find_clips, split_clips
from lipread.data.manifest import normalise_text, parse_manifest, read_manifest
from lipread.data.training import TrainOptions, training_clips
from lipread.errors import DataError
from lipread.vocab import LIPNET_VOCABULARY

needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None,
    reason="reads with the shipped model on the onnx backend (pip install lipread[onnx])",
)


def link(target: Path, at: Path) -> Path:
    at.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(target, at, target_is_directory=target.is_dir())
    except OSError:
        pytest.skip("symbolic links are not available here")
    return at


@pytest.fixture
def dataset(tmp_path: Path, grid_clip: Path, shared_data: Path) -> Path:
    """A folder with ``videos/bbaf2n.mp4`` (GRID s1, 75 frames at 25 fps) and ``faces/bbie7p/`` (a frame folder)."""
    folder = shared_data / "grid" / "faces" / "s4" / "bbie7p"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    link(grid_clip, tmp_path / "videos" / "bbaf2n.mp4")
    link(folder, tmp_path / "faces" / "bbie7p")
    return tmp_path


CSV = """video,text,start,end,speaker
videos/bbaf2n.mp4,"Bin  Blue at F two NOW",,,1
videos/bbaf2n.mp4,bin blue,0.2,1.0,s1
videos/missing.mp4,hello,,,
videos/bbaf2n.mp4,hello,2,1,
videos/bbaf2n.mp4,   ,1,2,
faces/bbie7p,bin blue in e seven please,,,speaker four
videos/bbaf2n.mp4,héllo wörld,0,1.5,
videos/bbaf2n.mp4,bin blue,0.2,1.0,
videos/bbaf2n.mp4,again,soon,,
"""


def test_csv_manifest(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "list.csv"
    manifest.write_text(CSV, encoding="utf-8")
    clips = find_clips(manifest)
    assert [(c.video.name, c.text, c.start, c.end, c.speaker) for c in clips] == [
        ("bbaf2n.mp4", "bin blue at f two now", None, None, 1),
        ("bbaf2n.mp4", "bin blue", 0.2, 1.0, 1),
        ("bbie7p", "bin blue in e seven please", None, None, "speaker four"),
        ("bbaf2n.mp4", "héllo wörld", 0.0, 1.5, None),
    ]
    assert clips[0].video == dataset / "videos" / "bbaf2n.mp4"  # relative to the manifest's folder
    assert len({c.key for c in clips}) == 4 and clips[2].origin == f"{manifest}:7"
    err = capsys.readouterr().err
    assert f"lipread: error: {manifest}:4: skipped: video videos/missing.mp4: not found" in err
    assert f"{manifest}:5: skipped: end (1 s) must be after start (2 s)" in err
    assert f"{manifest}:6: skipped: empty text" in err
    assert f"{manifest}:9: skipped: the same video and span as line 3" in err
    assert f"{manifest}:10: skipped: start must be a number of seconds, not 'soon'" in err
    assert err.count("skipped") == 5

    # a fixed-vocabulary model: the row its vocabulary cannot spell is reported and left out
    spelled = find_clips(manifest, vocabulary=LIPNET_VOCABULARY)
    assert [c.text for c in spelled] == [c.text for c in clips[:3]]
    assert f"lipread: error: {manifest}:8: skipped: character 'é' is not in the 'lipnet' vocabulary" in (
        capsys.readouterr().err
    )
    train, val = training_clips(TrainOptions(data=manifest, output=dataset / "run", val_fraction=0.34))
    assert sorted(c.key for c in train + val) == sorted(c.key for c in spelled) and len(val) == 1


def test_cuts_reach_the_crops(dataset: Path) -> None:
    manifest = dataset / "list.csv"
    manifest.write_text(CSV, encoding="utf-8")
    clips = find_clips(manifest, warn=False)
    assert clips[1].frame_span() == (5, 20) and clips[0].frame_span() == (0, None)
    cache = CropCache(dataset / "cache", get_preset("lipnet-notebook"))
    whole, cut = cache.get(clips[0]), cache.get(clips[1])
    assert whole.shape[0] == 75 and cut.shape[0] == 20
    assert (cut == whole[5:25]).all()
    assert cache.path(clips[0]) != cache.path(clips[1])


def test_jsonl_manifest(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "sub" / "list.jsonl"
    manifest.parent.mkdir()
    rows = [
        json.dumps({"video": "../videos/bbaf2n.mp4", "text": "bin blue at f two now", "speaker": 1}),
        "",
        json.dumps({"video": str(dataset / "videos" / "bbaf2n.mp4"), "text": "bin", "start": 0.4, "end": 0.8}),
        "{not json",
        json.dumps(["video", "text"]),
        json.dumps({"video": "../faces/bbie7p", "text": "x", "end": -1}),
        json.dumps({"video": "../faces", "text": "x"}),
        json.dumps({"text": "no video"}),
        json.dumps({"video": "../faces/bbie7p", "text": 7}),
    ]
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    clips = find_clips(manifest)
    assert [(c.text, c.start, c.end, c.speaker) for c in clips] == [
        ("bin blue at f two now", None, None, 1),
        ("bin", 0.4, 0.8, None),
    ]
    assert clips[1].frame_span() == (10, 10)
    err = capsys.readouterr().err
    for line, reason in [
        (4, "not a JSON object"),
        (5, "not a JSON object, but list"),
        (6, "end must be a finite number of seconds, 0 or more"),
        (7, "a folder, but not a frame folder"),
        (8, "no video"),
        (9, "text must be text, not 7"),
    ]:
        assert f"lipread: error: {manifest}:{line}: skipped: " in err and reason in err
    assert err.count("skipped") == 6


@needs_onnx
def test_eval_reads_a_manifest_with_cuts(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "list.jsonl"
    rows = [
        {"video": "videos/bbaf2n.mp4", "text": "bin blue at f two now"},
        {"video": "videos/bbaf2n.mp4", "text": "bin blue at f two now", "start": 0.0, "end": 2.4},
        {"video": "faces/bbie7p", "text": "bin blue in e seven please", "start": 0.0, "end": 2.0},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["eval", str(manifest), "--split", "all", "--json", "--decoder", "greedy"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 3 and result["failed"] == 0 and result["wer"] < 1


@pytest.mark.parametrize(("count", "hold"), [(1, "1 clip holds"), (2, "2 clips hold"), (4, "4 clips hold")])
def test_eval_of_a_few_clips_points_at_split_all(
    dataset: Path, capsys: pytest.CaptureFixture[str], count: int, hold: str
) -> None:
    manifest = dataset / "few.csv"
    ends = (2.7, 2.8, 2.9, 3.0)[:count]
    rows = "".join(f"videos/bbaf2n.mp4,bin blue at f two now,0,{end}\n" for end in ends)
    manifest.write_text("video,text,start,end\n" + rows, encoding="utf-8")
    assert main(["eval", str(manifest), "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        f"lipread: error: {manifest}: {hold} no validation clips (a tenth of them, rounded); "
        "evaluate every clip with --split all\n"
    )


@needs_onnx
def test_eval_names_the_part_of_a_video_it_cannot_read(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "list.jsonl"
    rows = [
        {"video": "videos/bbaf2n.mp4", "text": "bin blue at f two now"},
        {"video": "videos/bbaf2n.mp4", "text": "bin", "start": 1.0, "end": 1.1},  # 3 frames: too short
        {"video": "videos/bbaf2n.mp4", "text": "now", "start": 10.0, "end": 12.0},  # after the 3 s clip ends
        {"video": "videos/bbaf2n.mp4", "text": "now", "start": 2.0, "end": 100.0},  # ends after the clip
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["eval", str(manifest), "--split", "all", "--json", "--decoder", "greedy"]) == 1
    captured = capsys.readouterr()
    video = dataset / "videos" / "bbaf2n.mp4"
    lines = [line for line in captured.err.splitlines() if line.startswith("lipread: ")]
    assert len(lines) == 3 and "<frames>" not in captured.err and "Traceback" not in captured.err
    # each named by its row, then by its video
    assert lines[0].startswith(
        f"lipread: error: {manifest}:2: {video}: the part from 1 s to 1.1 s: too short to read: 3 frames"
    )
    assert lines[1] == (
        f"lipread: error: {manifest}:3: {video}: the part from 10 s to 12 s: no frames there (the video ends before it)"
    )
    assert lines[2] == (
        f"lipread: warning: {manifest}:4: the part from 2 s to 100 s ends after the video, which holds only 25 of its "
        "2450 frames"
    )
    assert json.loads(captured.out)["clips"] == 2  # the whole clip and the part cut short were still read


@needs_onnx
def test_eval_tells_a_warning_shared_by_many_clips_a_few_times(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five frame folders that each skip an image: three warnings name their clips, one line counts the rest."""
    import shutil

    for n in range(5):
        shutil.copytree(dataset / "faces" / "bbie7p", dataset / "gaps" / f"c{n}")
        (dataset / "gaps" / f"c{n}" / "31.jpg").unlink()
    manifest = dataset / "gaps.csv"
    manifest.write_text("video,text\n" + "".join(f"gaps/c{n},bin blue in e seven please\n" for n in range(5)))
    assert main(["eval", str(manifest), "--split", "all", "--json", "--decoder", "greedy"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split(": the frame folder's")[0] for line in lines[:3]] == [
        f"lipread: warning: {manifest}:{n}" for n in (2, 3, 4)
    ]
    assert lines[3:] == [f"lipread: warning: {manifest}: 2 more clips warned as above (the frame folder's ...)"]
    assert json.loads(captured.out)["clips"] == 5


@needs_onnx
def test_eval_warns_of_characters_the_model_cannot_write(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "list.csv"
    manifest.write_text("video,text\nvideos/bbaf2n.mp4,bin blue at f 2 now\n", encoding="utf-8")
    assert main(["eval", str(manifest), "--split", "all", "--json", "--decoder", "greedy"]) == 0
    err = capsys.readouterr().err
    assert err == (
        f"lipread: warning: {manifest}: the texts use 1 character(s) that lipnet-grid-s1 cannot write: '2'; "
        "every one of them counts as an error\n"
    )


def test_manifest_errors(tmp_path: Path) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text("path,sentence\na.mp4,hello\n")
    with pytest.raises(DataError, match="must name the columns video and text"):
        find_clips(bad)
    bad.write_bytes(b"video,text\n\xff\xfe,x\n")
    with pytest.raises(DataError, match="not UTF-8"):
        read_manifest(bad)
    bad.write_text("video,text\nmissing.mp4,hello\n")
    with pytest.raises(DataError, match="no usable clips"):
        read_manifest(bad, warn=False)
    with pytest.raises(DataError, match=r"nothing.csv: manifest not found"):
        find_clips(tmp_path / "nothing.csv")
    with pytest.raises(DataError, match=r"nothing: data folder not found"):
        find_clips(tmp_path / "nothing")


def test_lrs_folder(dataset: Path, grid_clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lrs = dataset / "lrs"
    link(grid_clip, lrs / "spk1" / "00001.mp4")
    (lrs / "spk1" / "00001.txt").write_text("Text:  BIN BLUE AT F TWO NOW\nConf: 4\n\nWORD START END ASDSCORE\n")
    link(grid_clip, lrs / "spk2" / "00002.mp4")
    (lrs / "spk2" / "00002.txt").write_text("BIN BLUE\n")
    link(dataset / "faces" / "bbie7p", lrs / "spk3" / "00003")
    (lrs / "spk3" / "00003.txt").write_text("Text: bin blue in e seven please\n")
    (lrs / "spk3" / "orphan.txt").write_text("Text: no video beside me\n")
    link(grid_clip, lrs / "spk3" / "unsaid.mp4")  # a video with no transcript: left out, and said
    clips = find_clips(lrs)
    assert [(c.key, c.text, c.speaker, c.video.name) for c in clips] == [
        ("spk1_00001", "bin blue at f two now", "spk1", "00001.mp4"),
        ("spk3_00003", "bin blue in e seven please", "spk3", "00003"),
    ]
    err = capsys.readouterr().err
    assert f"lipread: error: {lrs / 'spk2' / '00002.txt'}:1: skipped: the first line is not 'Text:" in err
    assert f"lipread: error: {lrs / 'spk3' / 'unsaid.mp4'}: skipped: no transcript unsaid.txt beside it" in err
    assert err.count("skipped") == 2
    mixed = [*clips, Clip(grid_clip, "bin blue at f two now", 1), Clip(grid_clip, "x", None, id="none")]
    train, val = split_clips(mixed, "overlapped", overlapped_per_speaker=0)  # speakers named and numbered
    assert len(train) == 4 and not val


def test_many_videos_without_transcripts_are_counted(
    dataset: Path, grid_clip: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lrs = dataset / "lrs-many"
    link(grid_clip, lrs / "a.mp4")
    (lrs / "a.txt").write_text("Text: bin blue at f two now\n")
    for n in range(8):
        link(grid_clip, lrs / f"bare{n}.mp4")
    assert len(find_clips(lrs)) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 6 and all("no transcript bare" in line for line in err[:5])
    assert err[5] == f"lipread: error: {lrs}: skipped: 3 more videos without a transcript beside them"
    find_clips(shared_data / "grid")  # a GRID folder: its videos have no transcripts, and need none
    grid = dataset / "grid-names"  # GRID-named videos, one with a note beside it that is not a transcript
    for name in ("bbaf2n", "bbaf3s", "bbaf4p"):
        link(grid_clip, grid / f"{name}.mp4")
    (grid / "bbaf3s.txt").write_text("re-recorded on Tuesday\n")
    assert len(find_clips(grid)) == 3
    assert "no transcript" not in capsys.readouterr().err


def test_normalise_text() -> None:
    assert normalise_text("  Bin\tBLUE\n at  ") == "bin blue at"
    assert normalise_text("Cafe\u0301") == "café"  # NFC: one code point
    assert normalise_text("ABC", LIPNET_VOCABULARY) == "abc"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300), st.sampled_from(["m.csv", "m.tsv", "m.jsonl"]))
def test_arbitrary_manifest_text_never_raises_but_data_error(tmp_path: Path, text: str, name: str) -> None:
    try:
        clips, bad = parse_manifest(text, tmp_path / name)
    except DataError:
        return
    assert all(line >= 1 and reason for line, reason in bad)
    assert all(c.text for c in clips)


_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
)


def test_a_column_given_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"x")
    with pytest.raises(DataError, match=r"m\.csv:1: the CSV header names the column video more than once"):
        parse_manifest("video,text,Video\nv.mp4,bin,gone.mp4\n", tmp_path / "m.csv")
    for ignored in ("video,text,,", "video,text,notes,Notes"):  # columns lipread does not read may repeat
        clips, bad = parse_manifest(f"{ignored}\nv.mp4,bin,a,b\n", tmp_path / "m.csv")
        assert len(clips) == 1 and not bad
    rows = '{"video": "v.mp4", "text": "bin", "Video": "gone.mp4"}\n{"video": "v.mp4", "text": "bin", "n": 1, "N": 2}\n'
    clips, bad = parse_manifest(rows, tmp_path / "m.jsonl")
    assert len(clips) == 1 and bad == [(1, "the key video is given more than once (in other cases or spacing)")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["video", "text", "start", "end", "speaker", "other"]) | st.text(max_size=5),
            _VALUE,
            max_size=6,
        ),
        max_size=8,
    )
)
def test_arbitrary_manifest_rows_are_clips_or_named_bad_rows(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    (tmp_path / "v.mp4").write_bytes(b"x")
    text = "\n".join(json.dumps(r) for r in rows)
    clips, bad = parse_manifest(text, tmp_path / "m.jsonl")
    assert len(clips) + len(bad) == sum(1 for r in rows)
    for c in clips:
        assert c.video == tmp_path / "v.mp4" and c.text
        assert c.start is None or c.end is None or c.start < c.end


def test_torch_trains_on_a_manifest_of_frame_folders_and_cuts(
    dataset: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One epoch of a tiny model on a manifest: two frame folders of speaker 4 and a clip cut from a GRID video."""
    torch = pytest.importorskip("torch")
    from lipread.config import ConvBlock
    from lipread_torch import backend

    faces = shared_data / "grid" / "faces"
    rows = [
        {"video": str(faces / "s4" / "bbwf9p"), "text": "bin blue with f nine please", "speaker": 4},
        {"video": str(faces / "s4" / "lbid2a"), "text": "lay blue in d two again", "speaker": 4},
        {"video": "videos/bbaf2n.mp4", "text": "bin blue", "start": 0.0, "end": 1.2, "speaker": 1},
        {"video": "videos/bbaf2n.mp4", "text": "Ça va", "start": 1.2, "end": 2.4, "speaker": 1},
        {"video": "videos/bbaf2n.mp4", "text": "now", "start": 10.0, "end": 12.0, "speaker": 1},  # past its end
    ]
    manifest = dataset / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, 0.0, b.pool) for c, b in zip((4, 6, 5), base.frontend)
    )
    options = TrainOptions(
        data=manifest,
        output=dataset / "run",
        cache=dataset / "cache",
        config=base.with_(frontend=blocks, rnn_hidden=8, rnn_layers=1),
        epochs=1,
        batch_size=2,
        val_fraction=0.34,
        workers=1,
        progress=False,
        beam_width=0,
        examples=0,
        device="cpu",
        word_clips=0.0,
        align_tolerance=None,
        conv_dropout=None,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = backend.train(options)
    finally:
        torch.set_num_threads(threads)
    assert result.last.is_file() and len(result.history) == 1
    cached = sorted(p.name for p in (dataset / "cache").rglob("*.npy"))
    assert len(cached) == 4 and sum(name.endswith("-frames.npy") for name in cached) == 2
    # the model writes the characters of the manifest's texts, so "Ça va" trains too (tests/test_alphabet.py)
    from lipread.weights import load_checkpoint

    assert "".join(load_checkpoint(result.last).config.vocabulary.characters) == " abdefghilnopstuvwyç"
    err = capsys.readouterr().err  # the part that cannot be read is named by its row
    assert err.count("skipped") == 1 and f"lipread: error: {manifest}:5: skipped: " in err


def test_the_first_clips_are_taken_before_any_is_left_out(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--max-clips 2 on a manifest whose third row has characters the first two lack: the alphabet is the
    first two clips', and the third is not reported as skipped, since it was never taken."""
    from lipread.vocab import Vocabulary

    manifest = dataset / "few.csv"
    rows = ["bin blue", "blue bin", "xyz quux"]
    lines = "".join(f"videos/bbaf2n.mp4,{t},0,{2 + i / 10}\n" for i, t in enumerate(rows))
    manifest.write_text("video,text,start,end\n" + lines, encoding="utf-8")
    capsys.readouterr()
    config = get_preset("lipnet").with_(vocabulary=Vocabulary(" beilnu"))
    options = TrainOptions(data=manifest, output=dataset / "run", config=config, max_clips=2, val_fraction=0.5)
    train, val = training_clips(options)
    assert sorted(c.text for c in train + val) == ["bin blue", "blue bin"]
    assert "skipped" not in capsys.readouterr().err
    # a clip among the first that the vocabulary cannot write is still left out, and said
    train, val = training_clips(TrainOptions(data=manifest, output=dataset / "run", config=config, val_fraction=0.5))
    assert sorted(c.text for c in train + val) == ["bin blue", "blue bin"]
    assert f"{manifest}:4: skipped: character 'x' is not in the 'custom' vocabulary" in capsys.readouterr().err


@needs_onnx
def test_eval_reads_the_references_in_the_models_case(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that writes upper case is scored against the texts as written, not lower-cased."""
    import sys

    from lipread.cli.eval import evaluate
    from lipread.data import metrics
    from lipread.vocab import Vocabulary

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from tiny_onnx import write_tiny_model
    finally:
        sys.path.pop(0)
    cased = get_preset("lipnet").with_(vocabulary=Vocabulary(" ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    model = write_tiny_model(tmp_path / "cased.onnx", config=cased)
    manifest = dataset / "cased.csv"
    manifest.write_text("video,text\nvideos/bbaf2n.mp4,BIN BLUE AT F TWO NOW\n", encoding="utf-8")
    seen: list[list[str]] = []
    real = metrics.summarise
    monkeypatch.setattr(metrics, "summarise", lambda refs, hyps: seen.append(list(refs)) or real(refs, hyps))
    evaluate(manifest, model, split="all", workers=1, threads=1)
    assert seen and seen[0] == ["BIN BLUE AT F TWO NOW"]


def test_an_open_quote_is_a_bad_row_not_a_long_text(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "open.csv"
    manifest.write_text(
        'video,text\nfaces/bbie7p,bin blue\nvideos/bbaf2n.mp4,"bin blue at f two now\nvideos/bbaf2n.mp4,lay red\n',
        encoding="utf-8",
    )
    assert [c.text for c in find_clips(manifest)] == ["bin blue"]
    err = capsys.readouterr().err
    assert f"{manifest}:3: skipped: not a CSV row (unexpected end of data); the rest of the file is not read" in err
    manifest.write_text('video,text\nvideos/bbaf2n.mp4,he said "hi" there\n', encoding="utf-8")
    assert [c.text for c in find_clips(manifest)] == ['he said "hi" there']


def test_a_lone_surrogate_is_a_bad_row(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "odd.jsonl"
    rows = [{"video": "videos/bbaf2n.mp4", "text": "hel\ud800lo"}, {"video": "faces/bbie7p", "text": "bin blue"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert [c.text for c in find_clips(manifest)] == ["bin blue"]
    assert f"{manifest}:1: skipped: text holds a lone UTF-16 surrogate" in capsys.readouterr().err


def test_speakers_are_read_alike_everywhere(dataset: Path) -> None:
    """4, "4", "s4" and 4.0 (a spreadsheet's number column with gaps) are speaker 4 in a manifest, and a
    speaker folder "4" of an LRS-style folder is speaker 4 too."""
    from lipread.data.manifest import _speaker

    assert [_speaker(v) for v in (4, "4", "s4", "S04", 4.0, "4.0", "anna", "4.5", None, "")] == [
        4,
        4,
        4,
        4,
        4,
        4,
        "anna",
        "4.5",
        None,
        None,
    ]
    lrs = dataset / "lrs" / "1"
    lrs.mkdir(parents=True)
    link(dataset / "videos" / "bbaf2n.mp4", lrs / "00001.mp4")
    (lrs / "00001.txt").write_text("Text: BIN BLUE AT F TWO NOW\n", encoding="utf-8")
    [clip] = find_clips(dataset / "lrs")
    assert clip.speaker == 1


def test_the_unseen_split_of_other_speakers_says_why_it_holds_nothing_out() -> None:
    clips = [Clip(Path(f"{name}.mp4"), "bin blue", speaker) for name, speaker in (("a", "anna"), ("b", "bob"))]
    with pytest.raises(DataError, match=r"split 'unseen' holds out GRID speakers 1, 2, 20, 22, and none of the 2 "):
        split_clips(clips, "unseen")
    with pytest.raises(DataError, match=r"\(speakers: anna, bob\); use --split random"):
        split_clips(clips, "unseen")


def test_an_lrs_style_folder_with_speaker_folders_named_like_grids(dataset: Path) -> None:
    """Speaker folders named s1, s2 with transcripts beside the videos: the transcripts are read, every folder
    with them, rather than GRID sentences from the file names."""
    for folder, name, said in (("s1", "bbaf2n", "HELLO THERE"), ("anna", "00001", "GOOD MORNING")):
        (dataset / "lrs" / folder).mkdir(parents=True)
        link(dataset / "videos" / "bbaf2n.mp4", dataset / "lrs" / folder / f"{name}.mp4")
        (dataset / "lrs" / folder / f"{name}.txt").write_text(f"Text: {said}\n", encoding="utf-8")
    clips = find_clips(dataset / "lrs")
    assert sorted((c.text, c.speaker) for c in clips) == [("good morning", "anna"), ("hello there", 1)]


def test_one_video_spelled_two_ways_is_one_video(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = dataset / "twice.csv"
    manifest.write_text(
        "video,text\n./videos/bbaf2n.mp4,bin blue\nvideos/../videos/bbaf2n.mp4,bin blue\n", encoding="utf-8"
    )
    [clip] = find_clips(manifest)
    assert clip.video == dataset / "videos" / "bbaf2n.mp4"
    assert f"{manifest}:3: skipped: the same video and span as line 2" in capsys.readouterr().err


def test_invisible_characters_are_not_classes() -> None:
    assert normalise_text("he\u00adl\u200blo\ufeff wor\x00ld\x07") == "hello world"
    assert normalise_text("tab\tand\nnew line") == "tab and new line"  # white space stays a space


def test_a_transcript_that_is_not_utf8_is_named_so(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lrs = dataset / "lrs"
    lrs.mkdir()
    for name, text in (("good", b"Text: BIN BLUE\n"), ("bad", b"Text: CAF\xe9\n")):
        link(dataset / "videos" / "bbaf2n.mp4", lrs / f"{name}.mp4")
        (lrs / f"{name}.txt").write_bytes(text)
    assert [c.text for c in find_clips(lrs)] == ["bin blue"]
    assert f"{lrs / 'bad.txt'}:1: skipped: the transcript is not UTF-8 text (bad byte at offset 9)" in (
        capsys.readouterr().err
    )


def test_json_keys_are_read_as_csv_headers_are(dataset: Path) -> None:
    manifest = dataset / "keys.jsonl"
    manifest.write_text('{"Video": "faces/bbie7p", "Text": "bin blue", " Speaker ": 4}\n', encoding="utf-8")
    [clip] = find_clips(manifest)
    assert (clip.text, clip.speaker) == ("bin blue", 4)


def test_a_part_that_ends_after_its_video_is_said(dataset: Path) -> None:
    """A row cut from 2 s to 10 s of a 3 s video trains on the 25 frames there are, with a warning."""
    manifest = dataset / "long.csv"
    manifest.write_text("video,text,start,end\nvideos/bbaf2n.mp4,now,2,10\n", encoding="utf-8")
    [clip] = find_clips(manifest)
    cache = CropCache(dataset / "cache", get_preset("lipnet-notebook"))
    with pytest.warns(
        RuntimeWarning,
        match=r"long\.csv:2: the part from 2 s to 10 s ends after the video, which "
        r"holds only 25 of its 200 frames",
    ):
        assert cache.get(clip).shape[0] == 25
