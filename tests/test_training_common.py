"""What every trainer shares: augmentation, the learning-rate schedule, options, reports."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.config import get_preset
from lipread.data.augmentation import Augmentation
from lipread.data.dataset import Clip
from lipread.data.resume import check_resume
from lipread.data.training import (
    TrainOptions,
    alignment_exists,
    allowed_labels,
    emission_mask,
    excerpt_span,
    format_examples,
    learning_rate,
    training_clips,
    validation_report,
    word_excerpt,
    word_frames,
)
from lipread.errors import CheckpointError, DataError


def augment(crops: np.ndarray, rng: np.random.Generator, mirror: bool = True, frame_jitter: float = 0.05) -> np.ndarray:
    """LipNet's augmentation alone (mirror, frame jitter), as the trainers apply it."""
    return Augmentation(mirror=mirror, frame_jitter=frame_jitter)(crops, rng)[0]


def _clip(t: int = 20) -> np.ndarray:
    """Frame i is filled with i, except an asymmetric column pattern that shows mirroring."""
    crops = np.repeat(np.arange(t, dtype=np.uint8)[:, None, None, None], 4, axis=1).repeat(6, axis=2)
    crops[:, :, 0] = 200
    return crops


def test_mirror_only() -> None:
    crops = _clip()
    seen = set()
    for seed in range(20):
        out = augment(crops, np.random.default_rng(seed), mirror=True, frame_jitter=0.0)
        flipped = bool((out[:, :, -1] == 200).all())
        np.testing.assert_array_equal(out, crops[:, :, ::-1] if flipped else crops)
        seen.add(flipped)
        assert out.flags["C_CONTIGUOUS"]
    assert seen == {True, False}
    for seed in range(10):
        out = augment(crops, np.random.default_rng(seed), mirror=False, frame_jitter=0.0)
        np.testing.assert_array_equal(out, crops)


@pytest.mark.parametrize("jitter", [0.05, 0.5, 0.99, 1.0])
def test_frame_jitter_keeps_order_and_at_least_one_frame(jitter: float) -> None:
    crops = _clip()
    lengths = set()
    for seed in range(30):
        out = augment(crops, np.random.default_rng(seed), mirror=False, frame_jitter=jitter)
        assert out.shape[0] >= 1 and out.shape[1:] == crops.shape[1:]
        index = out[:, 0, 1, 0].astype(int)
        assert (np.diff(index) >= 0).all()  # frames stay in order
        assert np.bincount(index).max() <= 2  # each kept frame appears once or twice
        lengths.add(out.shape[0])
    if jitter <= 0.5:
        assert len(lengths) > 1  # the clip length really varies


def test_augment_is_deterministic_per_rng() -> None:
    crops = _clip(75)
    a = augment(crops, np.random.default_rng(7), frame_jitter=0.1)
    b = augment(crops, np.random.default_rng(7), frame_jitter=0.1)
    np.testing.assert_array_equal(a, b)
    c = [augment(crops, np.random.default_rng(s), frame_jitter=0.1) for s in range(5)]
    assert len({x.tobytes() for x in c}) > 1


def test_learning_rate_schedule() -> None:
    """The LipNet notebook's scheduler: constant for 30 epochs, then times exp(-0.1) every epoch."""
    assert [learning_rate(e, 1e-4) for e in range(30)] == [1e-4] * 30
    for epoch in range(30, 60):
        assert learning_rate(epoch, 1e-4) == pytest.approx(1e-4 * math.exp(-0.1 * (epoch - 29)))
    assert learning_rate(3, 1e-3, constant_epochs=2, decay=0.5) == pytest.approx(1e-3 * math.exp(-1.0))


def test_train_options(tmp_path: Path) -> None:
    options = TrainOptions(data=str(tmp_path / "grid"), output=str(tmp_path / "runs" / "a"))  # type: ignore[arg-type]
    assert options.data == tmp_path / "grid"
    assert options.model_config == get_preset("lipnet")
    assert options.cache_dir == tmp_path / "runs" / "cache"
    record = options.to_json()
    assert record["config"] == "lipnet" and record["data"] == str(tmp_path / "grid") and record["cache"] is None
    custom = TrainOptions(tmp_path, tmp_path / "out", config=get_preset("lipnet-notebook"), cache=str(tmp_path / "c"))  # type: ignore[arg-type]
    assert custom.cache_dir == tmp_path / "c" and custom.to_json()["config"] == "lipnet-notebook"


def test_validation_report_and_examples() -> None:
    refs = ["bin blue at f two now", "set red by a one soon"]
    report = validation_report(refs, ["bin blue at f two now", "set red by a one"], beam=refs)
    assert report["greedy_wer"] == pytest.approx(1 / 12)
    assert report["greedy_sentence_accuracy"] == 0.5
    assert report["beam_wer"] == 0.0 and report["beam_cer"] == 0.0
    assert "beam_wer" not in validation_report(refs, refs)
    text = format_examples(refs, ["bin blue", "set"], limit=1)
    assert text.splitlines() == ["Original:   bin blue at f two now", "Prediction: bin blue", "~" * 80]


ALIGN = (
    "0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 35500 at\n"
    "35500 41000 f\n41000 47250 two\n47250 53000 now\n53000 74500 sil\n"
)


@pytest.mark.parametrize("field", ["frame_jitter", "word_clips"])
def test_probabilities_are_checked(field: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=field):
        TrainOptions(data=tmp_path, output=tmp_path, **{field: 1.5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", -1.0),
        ("lr", float("nan")),
        ("val_fraction", -0.5),
        ("val_fraction", 1.5),
        ("decay", -1.0),
        ("constant_epochs", -1),
        ("time_limit", -3.0),
    ],
)
def test_schedule_and_split_numbers_are_checked(field: str, value: float, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=field):
        TrainOptions(data=tmp_path, output=tmp_path, **{field: value})  # type: ignore[arg-type]


def test_a_resume_keeps_the_clips_and_may_change_the_schedule(tmp_path: Path) -> None:
    first = TrainOptions(data=tmp_path, output=tmp_path / "run", val_fraction=0.25, epochs=40)
    saved = json.dumps(first.to_json())
    check_resume("last.ckpt", saved, dataclasses.replace(first, epochs=68, constant_epochs=52, resume=True))
    check_resume("last.ckpt", None, dataclasses.replace(first, split_seed=3))  # an older checkpoint: no options
    for change in ({"val_fraction": 0.5}, {"split_seed": 1}, {"max_clips": 10}, {"train_on_validation": True}):
        field = next(iter(change))
        with pytest.raises(CheckpointError, match=rf"last\.ckpt: was trained with {field} "):
            check_resume("last.ckpt", saved, dataclasses.replace(first, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_conv_dropout_is_checked(value: float, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="conv_dropout"):
        TrainOptions(data=tmp_path, output=tmp_path, conv_dropout=value)
    assert TrainOptions(data=tmp_path, output=tmp_path, conv_dropout=0.0).conv_dropout == 0.0


def test_word_frames_from_alignment(tmp_path: Path) -> None:
    (tmp_path / "bbaf2n.align").write_text(ALIGN)
    clip = Clip(tmp_path / "bbaf2n.mp4", "bin blue at f two now", 1, tmp_path / "bbaf2n.align")
    assert word_frames(clip) == (
        ("bin", 24, 30),
        ("blue", 30, 34),
        ("at", 34, 36),
        ("f", 36, 41),
        ("two", 41, 47),
        ("now", 47, 53),
    )
    assert word_frames(Clip(tmp_path / "x.mp4", "bin", 1, None)) == ()


WORDS = (("bin", 24, 30), ("blue", 30, 34), ("at", 34, 36), ("f", 36, 41), ("two", 41, 47), ("now", 47, 53))


def test_word_excerpt_off_draws_nothing() -> None:
    crops = _clip(75)
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    for words, p in ((WORDS, 0.0), ((), 1.0)):
        out, text = word_excerpt(crops, words, rng, p)
        assert out is crops and text is None
    assert rng.bit_generator.state == before


@given(st.integers(0, 2**32 - 1), st.floats(0.01, 1.0))
def test_word_excerpt_is_a_run_of_words_with_their_frames(seed: int, p: float) -> None:
    crops = _clip(75)
    out, text = word_excerpt(crops, WORDS, np.random.default_rng(seed), p, max_words=3, margin=2)
    if text is None:
        assert out is crops
        return
    words = text.split()
    names = [w for w, _, _ in WORDS]
    i = names.index(words[0])
    assert 1 <= len(words) <= 3 and names[i : i + len(words)] == words
    first, last = WORDS[i][1] - 2, WORDS[i + len(words) - 1][2] + 2
    np.testing.assert_array_equal(out[:, 0, 1, 0], np.arange(first, last))


def test_word_excerpt_probability_and_variety() -> None:
    rng = np.random.default_rng(0)
    texts = [word_excerpt(_clip(75), WORDS, rng, 0.5)[1] for _ in range(400)]
    cut = [t for t in texts if t is not None]
    assert 150 < len(cut) < 250
    assert {len(t.split()) for t in cut} == {1, 2, 3}
    assert {"bin", "now", "at f two"} <= set(cut)


@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.05, 0.5]), st.booleans())
def test_augmentation_says_where_each_frame_came_from(seed: int, jitter: float, mirror: bool) -> None:
    crops = _clip(30)
    out, source = Augmentation(mirror=mirror, frame_jitter=jitter)(crops, np.random.default_rng(seed))
    np.testing.assert_array_equal(out, augment(crops, np.random.default_rng(seed), mirror=mirror, frame_jitter=jitter))
    np.testing.assert_array_equal(out[:, 0, 1, 0], source)  # column 1 holds the frame number, mirrored or not


@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_excerpt_span_is_the_choice_word_excerpt_makes(seed: int, p: float) -> None:
    crops = _clip(75)
    cut_rng, span_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    out, text = word_excerpt(crops, WORDS, cut_rng, p)
    span = excerpt_span(WORDS, 75, span_rng, p)
    if text is None:
        assert span is None
    else:
        assert span is not None and span[2] == text
        np.testing.assert_array_equal(out, crops[span[0] : span[1]])
    assert span_rng.bit_generator.state == cut_rng.bit_generator.state  # the same random numbers drawn


def test_emission_mask_follows_the_word_times() -> None:
    vocab = get_preset("lipnet").vocabulary
    ids = {c: vocab.encode(c)[0] for c in "abcdefghijklmnopqrstuvwxyz "}
    space = ids[" "]
    exact = emission_mask(WORDS, 75, vocab, 0)
    assert exact.shape == (75, vocab.size) and exact[:, 0].all()
    assert not exact[:24, 1:].any() and not exact[53:, 1:].any()  # silence: only the blank
    assert {c for c in ids if exact[24, ids[c]]} == {"b", "i", "n"}
    assert {c for c in ids if exact[29, ids[c]]} == {"b", "i", "n"}
    # frame 30 starts "blue" where "bin" ends: its letters and the space between them
    assert {c for c in ids if exact[30, ids[c]]} == {"b", "l", "u", "e", " "}
    assert [t for t in range(75) if exact[t, space]] == [30, 34, 36, 41, 47]
    loose = emission_mask(WORDS, 75, vocab, 2)
    assert (loose >= exact).all()  # a tolerance only ever allows more
    assert {c for c in ids if loose[22, ids[c]]} == {"b", "i", "n"} and not loose[21, 1:].any()
    assert [t for t in range(75) if loose[t, space]] == [*range(28, 44), *range(45, 50)]  # 2 frames around 30..47
    assert loose[54, ids["w"]] and not loose[55, ids["w"]]  # "now" ends at frame 53 (exclusive) + 2
    assert not loose[:, ids["z"]].any()
    # frames past the clip are cut off; no alignment: everything allowed
    assert emission_mask(WORDS, 40, vocab, 2).shape == (40, vocab.size)
    assert emission_mask((), 10, vocab, 2).all()
    with pytest.raises(DataError, match="'b3'"):
        emission_mask((("b3", 0, 4),), 10, vocab, 0)


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_align_tolerance_is_checked(value: object, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="align_tolerance"):
        TrainOptions(data=tmp_path, output=tmp_path, align_tolerance=value)  # type: ignore[arg-type]


@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.integers(0, 4))
def test_alignment_exists_agrees_with_every_path(seed: int, frames: int, n_labels: int) -> None:
    rng = np.random.default_rng(seed)
    v = 3
    mask = rng.random((frames, v)) < 0.6
    labels = [int(x) for x in rng.integers(1, v, n_labels)]
    exists = any(
        all(mask[t, k] for t, k in enumerate(path))
        and [k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k)] == labels
        for path in itertools.product(range(v), repeat=frames)
    )
    assert alignment_exists(mask, labels) == exists


def test_allowed_labels_are_the_mask_at_the_source_frames_or_everything() -> None:
    vocab = get_preset("lipnet").vocabulary
    labels = vocab.encode("bin blue at f two now")
    source = np.array([20, 21, 24, 24, 30, 31, 33, 34, 36, 40, 41, 45, 47, 50, 52, 55, 60])
    mask = emission_mask(WORDS, 75, vocab, 2)
    np.testing.assert_array_equal(allowed_labels(WORDS, 75, source, vocab.encode("bin"), vocab, 2), mask[source])
    # 17 frames cannot hold the 21 labels of the whole sentence: plain CTC
    assert allowed_labels(WORDS, 75, source, labels, vocab, 2).all()
    every = np.arange(75)
    np.testing.assert_array_equal(allowed_labels(WORDS, 75, every, labels, vocab, 2), mask)


def test_the_seed_leaves_the_validation_clips_alone_and_the_split_seed_moves_them(grid_root: Path) -> None:
    def val(**seeds: int) -> list[str]:
        return [c.key for c in training_clips(TrainOptions(data=grid_root, output=grid_root / "run", **seeds))[1]]

    shipped = val()
    assert len(shipped) == 90
    assert val(seed=1) == shipped  # another seed's run is validated on the same clips
    assert set(val(split_seed=1)) != set(shipped)


def test_a_training_checkpoint_of_the_other_backend_is_named_as_such(tmp_path: Path) -> None:
    """--resume with the other backend: the checkpoint is not called damaged, the right backend is named."""
    import zipfile

    from safetensors.numpy import save_file

    from lipread.data.resume import other_backend_hint

    torch_file = tmp_path / "torch.ckpt"
    with zipfile.ZipFile(torch_file, "w") as z:
        z.writestr("archive/data.pkl", b"x")
    tf_file = tmp_path / "tf.ckpt"
    save_file({"w": np.zeros(2, np.float32)}, str(tf_file), metadata={"format": "lipread-tf-train"})
    other = tmp_path / "other.ckpt"
    other.write_bytes(b"neither")
    assert other_backend_hint(torch_file, "tensorflow") == (
        "; it was written by the torch backend: resume with --backend torch"
    )
    assert other_backend_hint(tf_file, "torch") == (
        "; it was written by the tensorflow backend: resume with --backend tensorflow"
    )
    assert other_backend_hint(torch_file, "torch") == other_backend_hint(other, "torch") == ""
    if importlib.util.find_spec("torch") is not None:
        from lipread_torch.train import load_training_checkpoint

        with pytest.raises(CheckpointError, match=r"tf\.ckpt: not a PyTorch training checkpoint; it was written by"):
            load_training_checkpoint(tf_file)
