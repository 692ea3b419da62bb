"""``lipread adapt``: the rule that picks the training from the number of clips, freezing parts of a model, the
refusal of texts the model cannot write, and a short adaptation that writes a model ``transcribe`` reads."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lipread.cli import main
from lipread.data.adapt import CLIP_PASSES, MAX_EPOCHS, MIN_EPOCHS, adapt_plan, missing_characters
from lipread.data.training import TrainOptions, learning_rate
from lipread.errors import BackendError, DataError
from lipread.vocab import Vocabulary

GRID_LETTERS = Vocabulary(" abcdefghijklmnopqrstuvwxyz", "letters")


# --------------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------------


def test_a_handful_of_clips_trains_one_clip_a_step() -> None:
    plan = adapt_plan(6)
    assert plan.freeze == () and plan.batch_size == 1
    assert plan.epochs == math.ceil(CLIP_PASSES / 6) == 30
    assert plan.lr == 2e-4
    assert plan.describe() == "6 clips: every weight trains, 30 epochs, learning rate 0.0002"


def test_many_clips_train_every_weight_more_gently() -> None:
    plan = adapt_plan(400)
    assert plan.freeze == () and plan.lr == 1e-4 and plan.epochs == MIN_EPOCHS and plan.batch_size == 4


def test_one_clip_is_not_drilled_for_ever() -> None:
    assert adapt_plan(1).epochs == MAX_EPOCHS


@pytest.mark.parametrize("clips", [1, 6, 30, 99, 100, 2000])
def test_the_schedule_ends_at_a_tenth_of_the_rate(clips: int) -> None:
    plan = adapt_plan(clips)
    first = learning_rate(0, plan.lr, plan.constant_epochs, plan.decay)
    last = learning_rate(plan.epochs - 1, plan.lr, plan.constant_epochs, plan.decay)
    assert first == plan.lr
    assert last == pytest.approx(plan.lr / 10, rel=1e-6)


def test_epochs_and_rate_can_be_chosen() -> None:
    plan = adapt_plan(6, epochs=4, lr=1e-3)
    assert (plan.epochs, plan.lr, plan.constant_epochs) == (4, 1e-3, 2)
    with pytest.raises(ValueError, match="at least one clip"):
        adapt_plan(0)


def test_missing_characters_are_named_once_in_order() -> None:
    # "e" + combining acute is "é" after NFC, as training reads it; upper case is lowered for a lower-case alphabet.
    texts = ["Cafe\u0301 crème", "naïve café", "bin blue"]
    assert missing_characters(texts, GRID_LETTERS) == ["é", "è", "ï"]
    assert missing_characters(["bin blue at f two now"], GRID_LETTERS) == []
    assert missing_characters(["ça"], Vocabulary(("", *GRID_LETTERS.characters))) == ["ç"]  # an OOV slot writes none


# --------------------------------------------------------------------------------------------------
# Freezing
# --------------------------------------------------------------------------------------------------


def test_freeze_names_known_parts_and_leaves_something_to_train() -> None:
    assert TrainOptions(data=Path("."), output=Path("."), freeze="rnn").freeze == ("rnn",)
    with pytest.raises(DataError, match="unknown part 'gru'"):
        TrainOptions(data=Path("."), output=Path("."), freeze=("gru",))
    with pytest.raises(DataError, match="nothing to train"):
        TrainOptions(data=Path("."), output=Path("."), freeze=("frontend", "rnn", "classifier"))


def test_the_tensorflow_backend_refuses_to_freeze() -> None:
    lipread_tf = pytest.importorskip("lipread_tf")
    options = TrainOptions(data=Path("."), output=Path("."), freeze=("rnn",))
    with pytest.raises(BackendError, match=r"cannot freeze.*rnn.*--backend torch"):
        lipread_tf.TensorFlowBackend().train(options)


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces(shared_data: Path) -> Path:
    root = shared_data / "grid" / "faces"
    if not (root / "s4").is_dir():
        pytest.skip(f"GRID speaker 4 face crops not found in {root}")
    return root


def write_manifest(path: Path, rows: list[tuple[Path, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "text"])
        writer.writerows((str(video), text) for video, text in rows)
    return path


def test_texts_the_model_cannot_write_are_refused_by_name(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(
        tmp_path / "mine.csv", [(faces / "s4" / "bbie7p", "déjà vu"), (faces / "s4" / "bbwf9p", "ok")]
    )
    assert main(["adapt", str(manifest), "-o", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lipread: error: {manifest}: ") and "\n" not in err
    assert "'é' 'à'" in err and "lipnet-grid-s1" in err
    assert not (tmp_path / "run").exists()  # refused before anything was trained or written


def test_an_onnx_model_cannot_be_the_start(faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path / "mine.csv", [(faces / "s4" / "bbie7p", "bin blue in e seven please")])
    assert main(["adapt", str(manifest), "-o", str(tmp_path / "run"), "--from", "model.onnx"]) == 1
    assert "its .safetensors checkpoint" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow lipnet-shaped model with random weights (adapting the shipped one takes minutes on a CPU)."""
    torch = pytest.importorskip("torch")
    from lipread.config import ConvBlock, get_preset
    from lipread.weights import save_checkpoint
    from lipread_torch.model import LipNet
    from lipread_torch.wrapper import canonical_state

    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, 0.0, b.pool) for c, b in zip((4, 6, 5), base.frontend)
    )
    config = base.with_(frontend=blocks, rnn_hidden=8, rnn_layers=1, decoder="grammar")
    torch.manual_seed(0)
    tensors = {k: v.numpy() for k, v in canonical_state(LipNet(config)).items()}
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", tensors, config)


@pytest.mark.torch
def test_adapt_writes_a_model_that_transcribe_reads(
    faces: Path, tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipread.weights import load_checkpoint

    clips = [
        (faces / "s4" / name, text)
        for name, text in [("bbie7p", "bin blue in e seven please"), ("lbid2a", "lay blue in d two again")]
    ]
    clips.append((faces / "s4" / "bbwf9p", "hello world"))  # not a GRID sentence: the model will read with a beam
    clips.append((tmp_path / "gone.mp4", "bin"))  # a bad row: reported once, and left out
    manifest = write_manifest(tmp_path / "mine.csv", clips)
    run = tmp_path / "run"
    argv = [
        "adapt",
        str(manifest),
        "-o",
        str(run),
        "--from",
        str(tiny_checkpoint),
        "--epochs",
        "2",
        "--freeze",
        "rnn",
        "classifier",
    ]
    assert main([*argv, "--workers", "1", "--device", "cpu", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "3 clips: rnn, classifier frozen, 2 epochs" in out and "beam decoder" in out
    assert err.count(f"lipread: error: {manifest}:5: skipped: ") == 1 and err.count("gone.mp4") == 1
    assert (run / "model.safetensors").is_file() and (run / "model.onnx").is_file()
    assert not (run / "last.ckpt").exists() and not (run / "best.safetensors").exists()
    assert len((run / "history.jsonl").read_text().splitlines()) == 2

    before, after = load_checkpoint(tiny_checkpoint), load_checkpoint(run / "model.safetensors")
    for name, value in before.tensors.items():
        changed = not np.array_equal(value, after.tensors[name])
        assert changed == name.startswith("frontend."), name  # the front end trained, nothing else moved
    assert after.config.decoder is None

    # the ONNX file where ONNX Runtime is installed, else the same model through PyTorch
    import importlib.util

    model = run / ("model.onnx" if importlib.util.find_spec("onnxruntime") else "model.safetensors")
    assert main(["transcribe", str(faces / "s4" / "swao1n"), "--model", str(model), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert result["decoder"] == "beam" and isinstance(result["text"], str)


def test_a_manifest_of_bad_rows_is_reported_once_and_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "mine.csv", [(tmp_path / "gone.mp4", "bin"), (tmp_path / "lost", "")])
    assert main(["adapt", str(manifest), "-o", str(tmp_path / "run"), "--no-progress"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": skipped: ")[0] for line in err[:2]] == [f"lipread: error: {manifest}:{n}" for n in (2, 3)]
    assert len(err) == 3 and err[2].startswith(f"lipread: error: {manifest}: ")
    assert not (tmp_path / "run").exists()


@pytest.mark.torch
def test_a_clip_too_short_for_its_text_is_reported_not_trained_on(
    tiny_checkpoint: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 0.2 s cut cannot hold a 21-character sentence: CTC has no alignment for it, and its loss would count as
    zero, as if it were learnt perfectly."""
    manifest = tmp_path / "mine.csv"
    manifest.write_text(f"video,text,start,end\n{grid_clip},bin blue at f two now,0,0.2\n", encoding="utf-8")
    argv = ["adapt", str(manifest), "-o", str(tmp_path / "run"), "--from", str(tiny_checkpoint), "--device", "cpu"]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert (
        f"{manifest}:2: skipped: too short for its text: 5 frames (at 25 fps) cannot hold its 21 characters, "
        "which need at least 21" in err
    )


@pytest.mark.torch
def test_no_usable_clip_leaves_no_run_folder(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows that parse but whose videos cannot be decoded: an error, and no folder left for a model that never was."""
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video\n" * 20)
    manifest = write_manifest(tmp_path / "mine.csv", [(broken, "bin blue")])
    run = tmp_path / "run"
    argv = ["adapt", str(manifest), "-o", str(run), "--from", str(tiny_checkpoint), "--device", "cpu"]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"{manifest}:2: skipped: " in err and "Traceback" not in err
    assert not run.exists()
    run.mkdir()  # a folder that was there before is the user's: it stays
    assert main([*argv, "--workers", "1", "--no-progress"]) == 1
    assert run.is_dir()


def test_the_plan_counts_in_words() -> None:
    assert adapt_plan(1, epochs=1).describe().startswith("1 clip: every weight trains, 1 epoch, learning rate")


def test_an_output_in_the_way_is_found_before_training(
    faces: Path, tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "mine.csv", [(faces / "s4" / "bbie7p", "bin blue in e seven please")])
    run = tmp_path / "run"
    (run / "model.onnx").mkdir(parents=True)
    assert main(["adapt", str(manifest), "-o", str(run), "--from", str(tiny_checkpoint), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"lipread: error: {run / 'model.onnx'}: is a folder; the adapted model is written there\n"
    assert captured.out == "" and not (run / "history.jsonl").exists()
