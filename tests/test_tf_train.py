"""The TensorFlow trainer: CTC loss, memorising 8 real GRID clips, exact resume, the distribution path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from ctc_reference import allowed_paths_nll  # noqa: E402

from lipread.config import ConvBlock, ModelConfig, get_preset  # noqa: E402
from lipread.data.dataset import find_clips  # noqa: E402
from lipread.data.training import TrainOptions, alignment_exists, emission_mask, word_frames  # noqa: E402
from lipread.errors import CheckpointError  # noqa: E402
from lipread.weights import load_checkpoint  # noqa: E402
from lipread_tf import backend  # noqa: E402
from lipread_tf.train import (  # noqa: E402
    CTCLoss,
    Examples,
    _dataset,
    _load_examples,
    _pack,
    ctc_loss,
    load_training_checkpoint,
    train,
)

pytestmark = pytest.mark.tensorflow

TINY: ModelConfig = get_preset("lipnet").with_(
    name="tiny",
    height=25,
    width=50,
    frontend=(
        ConvBlock(8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True),
        ConvBlock(16, (3, 3, 3), batchnorm=True),
        ConvBlock(16, (3, 3, 3), batchnorm=True),
    ),
    rnn_hidden=64,
)
"""A small LipNet (25x50 RGB crops, 8/16/16 channels, 2 x BiGRU(64)) that trains in seconds per epoch."""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One crop cache for every run of this module (each clip is decoded once)."""
    return tmp_path_factory.mktemp("crops")


def options(grid_root: Path, output: Path, cache: Path, **changes: object) -> TrainOptions:
    """Options for a quick run on the first 8 clips, trained and validated on all of them."""
    base = {
        "data": grid_root,
        "output": output,
        "config": TINY,
        "cache": cache,
        "max_clips": 8,
        "train_on_validation": True,
        "val_fraction": 1.0,
        "batch_size": 2,
        "lr": 5e-3,
        "constant_epochs": 70,
        "decay": 0.02,
        "mirror": False,
        "frame_jitter": 0.0,
        "beam_width": 0,
        "examples": 1,
        "progress": False,
        "workers": 2,
        "word_clips": 0.0,  # the trainer's mechanics on whole clips, not the default recipe
        "align_tolerance": None,
        "conv_dropout": None,
    }
    base.update(changes)
    return TrainOptions(**base)  # type: ignore[arg-type]


def ctc_nll(logprobs: np.ndarray, labels: list[int]) -> float:
    """Reference CTC negative log-likelihood of one clip ``(T, V)`` (blank 0): the forward recursion."""
    ext = [0]
    for k in labels:
        ext += [k, 0]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = logprobs[0, 0]
    if labels:
        alpha[1] = logprobs[0, ext[1]]
    for t in range(1, len(logprobs)):
        new = np.full(len(ext), -np.inf)
        for s, k in enumerate(ext):
            paths = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
            if s >= 2 and k != 0 and k != ext[s - 2]:
                paths.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(paths) + logprobs[t, k]
        alpha = new
    return float(-np.logaddexp.reduce(alpha[-2:] if labels else alpha[-1:]))


def test_ctc_loss_is_the_per_clip_nll_and_zeroes_impossible_clips() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 12, 6)).astype(np.float32)
    logprobs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    lengths = np.array([12, 9, 4], np.int32)
    labels = np.array([[1, 2, 2, 3], [4, 5, 0, 0], [1, 1, 1, 0]], np.int32)  # clip 3: "aaa" needs 5 frames
    label_lengths = np.array([4, 2, 3], np.int32)
    expected = [ctc_nll(logprobs[b, : lengths[b]], list(labels[b, : label_lengths[b]])) for b in range(2)]
    x = tf.Variable(logprobs)
    with tf.GradientTape() as tape:
        loss = ctc_loss(labels, label_lengths, x, lengths)
        total = tf.reduce_sum(loss)
    grad = tape.gradient(total, x).numpy()
    np.testing.assert_allclose(loss.numpy()[:2], expected, rtol=1e-5)
    assert loss.numpy()[2] == 0.0
    assert np.isfinite(grad).all()
    assert not grad[2].any()
    assert not grad[1, 9:].any()  # frames past a clip's length get no gradient


@pytest.mark.parametrize("seed", range(4))
def test_ctc_loss_with_allowed_labels_sums_only_allowed_alignments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(2, 6, 4))
    logprobs = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
    labels = np.array([[1, 2, 2], [3, 1, 0]], np.int32)
    label_lengths = np.array([3, 2], np.int32)
    allowed = rng.random((2, 6, 4)) < 0.75
    allowed[:, :, 0] = True
    x = tf.Variable(logprobs)
    with tf.GradientTape() as tape:
        loss = ctc_loss(labels, label_lengths, x, np.array([6, 6], np.int32), tf.constant(allowed))
        total = tf.reduce_sum(loss)
    grad = tape.gradient(total, x).numpy()
    assert np.isfinite(grad).all()
    for b in range(2):
        expected = allowed_paths_nll(logprobs[b].astype(np.float64), labels[b, : label_lengths[b]].tolist(), allowed[b])
        assert loss.numpy()[b] == (0.0 if np.isinf(expected) else pytest.approx(expected, rel=1e-5))
    plain = ctc_loss(labels, label_lengths, logprobs, np.array([6, 6], np.int32))
    everything = ctc_loss(labels, label_lengths, logprobs, np.array([6, 6], np.int32), tf.ones((2, 6, 4), tf.bool))
    np.testing.assert_allclose(everything.numpy(), plain.numpy(), rtol=1e-6)


def test_packed_allowed_labels_give_the_same_loss() -> None:
    """:class:`CTCLoss` with ``tied`` unpacks what ``_pack`` packs: 30 labels, 2 integers per frame."""
    rng = np.random.default_rng(0)
    lengths = [9, 7]
    logits = rng.normal(size=(2, 9, 30))
    logprobs = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
    labels = [np.array([3, 27, 3], np.int32), np.array([29, 1], np.int32)]
    allowed = rng.random((2, 9, 30)) < 0.8
    allowed[:, :, 0] = True
    rows = [_pack(np.zeros(lengths[b]), labels[b], allowed[b, : lengths[b]]) for b in range(2)]
    y = np.zeros((2, max(len(r) for r in rows)), np.float32)  # zero-padded, as padded_batch does
    for b, r in enumerate(rows):
        y[b, : len(r)] = r
    packed = CTCLoss(tied=True).call(tf.constant(y), tf.constant(logprobs))
    padded = np.zeros((2, 3), np.int32)
    for b, lab in enumerate(labels):
        padded[b, : len(lab)] = lab
    direct = ctc_loss(padded, np.array([3, 2]), logprobs, np.array(lengths), tf.constant(allowed))
    np.testing.assert_allclose(packed.numpy(), direct.numpy(), rtol=1e-6)
    assert (direct.numpy() > ctc_loss(padded, np.array([3, 2]), logprobs, np.array(lengths)).numpy()).all()


@pytest.mark.slow
def test_memorises_eight_clips(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    """Greedy CER <= 0.05 on 8 real clips it trains on; continued with ``resume`` in steps, so the run
    also shows that a resumed run keeps its history and improves on it."""
    started = time.monotonic()
    result = None
    for epochs in (160, 220, 280):
        result = train(
            options(grid_root, tmp_path, cache, epochs=epochs, resume=epochs > 160), tf.distribute.get_strategy()
        )
        if min(h["metrics"]["greedy_cer"] for h in result.history) <= 0.05:
            break
    assert result is not None
    best_cer = min(h["metrics"]["greedy_cer"] for h in result.history)
    print(f"memorised to greedy CER {best_cer:.3f} in {len(result.history)} epochs, {time.monotonic() - started:.0f}s")
    assert best_cer <= 0.05
    assert [h["epoch"] for h in result.history] == list(range(1, len(result.history) + 1))
    assert result.best is not None
    best = load_checkpoint(result.best)
    assert best.config == TINY
    assert best.metrics["greedy_wer"] == min(h["metrics"]["greedy_wer"] for h in result.history)
    assert backend.load(result.best).config == TINY


def test_resume_continues_exactly(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    """Two epochs, then resumed to three, gives the same weights and history as three in one go."""
    quick = {"epochs": 3, "max_clips": 4, "mirror": True, "frame_jitter": 0.05, "beam_width": 4}
    straight = train(options(grid_root, tmp_path / "straight", cache, **quick))
    train(options(grid_root, tmp_path / "resumed", cache, **{**quick, "epochs": 2}))
    resumed = train(options(grid_root, tmp_path / "resumed", cache, **{**quick, "resume": True}))

    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    for a, b in zip(straight.history, resumed.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
        assert set(a["metrics"]) >= {"greedy_cer", "greedy_wer", "beam_cer", "beam_wer"}
    x, y = load_checkpoint(straight.last).tensors, load_checkpoint(resumed.last).tensors
    assert x.keys() == y.keys()
    for name in x:
        np.testing.assert_allclose(x[name], y[name], atol=1e-4, err_msg=name)
    lines = (tmp_path / "resumed" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    metadata, tensors = load_training_checkpoint(tmp_path / "resumed" / "last.ckpt")
    assert metadata["epoch"] == "3" and tensors


def test_mirrored_strategy_path(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    """The multi-GPU code path (MirroredStrategy), here with the CPU as its one replica."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    result = train(options(grid_root, tmp_path, cache, epochs=1, max_clips=4), strategy)
    assert len(result.history) == 1
    assert np.isfinite(result.history[0]["train_loss"])
    assert result.last.is_file() and (tmp_path / "last.ckpt").is_file()


def test_word_clips_in_the_input_pipeline(grid_root: Path, tmp_path: Path) -> None:
    clips = find_clips(grid_root)[:4]
    vocab = TINY.vocabulary
    labels = [np.asarray(vocab.encode(c.text), np.int32) for c in clips]
    crops = [np.zeros((75, TINY.height, TINY.width, TINY.channels), np.uint8) for _ in clips]
    opts = options(grid_root, tmp_path, tmp_path, epochs=1, word_clips=1.0)
    ((x, y),) = _dataset(Examples(clips, crops, labels), opts, TINY, 0, 4, 1).take(1).as_numpy_iterator()
    for row in y:
        text = vocab.decode(row[2 : 2 + row[1]].tolist())
        assert any(text in c.text and text != c.text for c in clips) and len(text.split()) <= 3
    assert (x["lengths"] < 75).all() and (y[:, 0] == x["lengths"]).all()


def test_a_clip_too_short_for_its_text_is_left_out(
    grid_root: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = grid_root / "s1" / "bbaf2n.mp4"
    manifest = tmp_path / "mine.csv"
    manifest.write_text(f"video,text,start,end\n{clip},bin blue,0,0.2\n{clip},bin blue at f two now,0,3\n")
    opts = options(manifest, tmp_path / "run", cache, max_clips=None)
    train_set, _ = _load_examples(opts, TINY, 1)
    assert [len(c) for c in train_set.crops] == [75]
    assert (
        f"{manifest}:2: skipped: too short for its text: 5 frames (at 25 fps) cannot hold its 8 characters, which "
        in (capsys.readouterr().err)
    )


def test_resume_without_checkpoint(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nothing to resume from"):
        train(options(grid_root, tmp_path, cache, resume=True))


def test_resume_with_another_model(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    train(options(grid_root, tmp_path, cache, epochs=1, max_clips=2))
    other = TINY.with_(rnn_hidden=32)
    with pytest.raises(CheckpointError, match="another configuration"):
        train(options(grid_root, tmp_path, cache, epochs=2, max_clips=2, config=other, resume=True))
    with pytest.raises(CheckpointError, match=r"max_clips 2 \(now 3\)"):
        train(options(grid_root, tmp_path, cache, epochs=2, max_clips=3, resume=True))


def test_allowed_labels_in_the_input_pipeline(grid_root: Path, tmp_path: Path) -> None:
    clips = [c for c in find_clips(grid_root) if c.alignment is not None][:4]
    vocab = TINY.vocabulary
    labels = [np.asarray(vocab.encode(c.text), np.int32) for c in clips]
    crops = [np.zeros((75, TINY.height, TINY.width, TINY.channels), np.uint8) for _ in clips]
    opts = options(grid_root, tmp_path, tmp_path, epochs=1, align_tolerance=2)
    ((_, y),) = _dataset(Examples(clips, crops, labels), opts, TINY, 0, 4, 1).take(1).as_numpy_iterator()
    texts = [c.text for c in clips]
    for row in y:
        i = texts.index(vocab.decode(row[2 : 2 + row[1]].tolist()))  # batches are shuffled
        mask = emission_mask(word_frames(clips[i]), 75, vocab, 2)
        assert alignment_exists(mask, labels[i])
        packed = _pack(np.zeros(75), labels[i], mask)
        np.testing.assert_array_equal(row[: len(packed)], packed)
        assert not row[len(packed) :].any()


def test_init_and_aligned_training(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    """``init`` starts from a checkpoint's weights; alignment-tied CTC trains to finite losses."""
    start = train(options(grid_root, tmp_path / "start", cache, epochs=1, max_clips=2)).last
    tuned = train(
        options(grid_root, tmp_path / "tuned", cache, epochs=1, max_clips=2, lr=0.0, init=start, align_tolerance=2)
    )
    before, after = load_checkpoint(start).tensors, load_checkpoint(tuned.last).tensors
    for k in before:
        if "running" not in k:
            assert np.array_equal(before[k], after[k]), k
    fresh = load_checkpoint(train(options(grid_root, tmp_path / "fresh", cache, epochs=1, max_clips=2, lr=0.0)).last)
    assert not np.array_equal(fresh.tensors["classifier.weight"], before["classifier.weight"])
    assert np.isfinite(tuned.history[0]["train_loss"]) and tuned.history[0]["train_loss"] > 0


def test_the_backend_refuses_options_it_does_not_have(tmp_path: Path) -> None:
    from lipread.errors import BackendError

    for asked, refusal in [
        ({"extra": {"clip": 5.0}}, r"takes no --extra options \(clip\)"),
        ({"mixup": 0.4}, "mixup"),
        ({"freeze": ("rnn",)}, "cannot freeze parts of a model"),
    ]:
        with pytest.raises(BackendError, match=refusal):
            backend.train(TrainOptions(data=tmp_path, output=tmp_path / "run", **asked))
    assert not (tmp_path / "run").exists()
