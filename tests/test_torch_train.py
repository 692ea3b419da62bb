"""Training with the PyTorch backend: it learns, resumes exactly, keeps its files, honours its options."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ctc_reference import allowed_paths_nll  # noqa: E402

from lipread import CheckpointError  # noqa: E402
from lipread.cli import train as train_command  # noqa: E402
from lipread.config import ConvBlock, ModelConfig, get_preset  # noqa: E402
from lipread.data.augmentation import NO_AUGMENTATION, Augmentation  # noqa: E402
from lipread.data.dataset import CropCache, find_clips  # noqa: E402
from lipread.data.metrics import summarise  # noqa: E402
from lipread.data.restart import RECIPE_EPOCHS  # noqa: E402
from lipread.data.training import TrainOptions, alignment_exists, emission_mask, word_frames  # noqa: E402
from lipread.decoding import greedy_decode_batch  # noqa: E402
from lipread.video.preprocess import normalise  # noqa: E402
from lipread.weights import load_checkpoint  # noqa: E402
from lipread_torch import backend  # noqa: E402
from lipread_torch.data import Examples, epoch_batches, make_batch  # noqa: E402
from lipread_torch.train import ctc_loss, load_training_checkpoint  # noqa: E402

pytestmark = pytest.mark.torch

LIPNET_AUGMENTATION = Augmentation(mirror=True, frame_jitter=0.2)


def config(channels: tuple[int, int, int], hidden: int, layers: int, dropout: float) -> ModelConfig:
    """The ``lipnet`` preset (input 75x50x100x3) with narrow layers."""
    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, dropout, b.pool)
        for c, b in zip(channels, base.frontend)
    )
    return base.with_(frontend=blocks, rnn_hidden=hidden, rnn_layers=layers)


TINY = config((4, 6, 5), hidden=8, layers=2, dropout=0.5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crops")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Single-threaded PyTorch: faster for these tiny models on a busy machine, and deterministic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def options(grid_root: Path, output: Path, cache: Path, **kw: Any) -> TrainOptions:
    base: dict[str, Any] = dict(
        data=grid_root,
        output=output,
        cache=cache,
        config=TINY,
        max_clips=4,
        val_fraction=0.25,
        epochs=2,
        batch_size=2,
        workers=2,
        progress=False,
        beam_width=4,
        examples=0,
        device="cpu",
        # These tests check the trainer's mechanics, not the default recipe: whole clips, the preset's dropout.
        lr=1e-4,
        constant_epochs=30,
        word_clips=0.0,
        align_tolerance=None,
        conv_dropout=None,
    )
    base.update(kw)
    return TrainOptions(**base)


def weights(path: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(path).tensors


@pytest.mark.slow
def test_learns_to_read_eight_clips(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    """A small model memorises 8 real GRID clips: greedy CER on them reaches 5% or less."""
    cfg = config((8, 16, 16), hidden=256, layers=1, dropout=0.0)
    opts = options(
        grid_root,
        tmp_path / "run",
        cache,
        config=cfg,
        max_clips=8,
        train_on_validation=True,
        val_fraction=1.0,
        batch_size=1,
        lr=1e-3,
        constant_epochs=1000,
        mirror=False,
        frame_jitter=0.0,
        beam_width=0,
    )
    cer = 1.0
    for epochs in range(40, 161, 10):  # in chunks, resuming, so the test ends as soon as it has learnt
        opts.epochs, opts.resume = epochs, epochs > 40
        result = backend.train(opts)
        cer = result.history[-1]["metrics"]["greedy_cer"]
        if cer <= 0.05:
            break
    assert cer <= 0.05, f"greedy CER still {cer:.3f} after {epochs} epochs"
    # The canonical model reads the clips as well, outside the trainer.
    model = backend.load(result.last)
    clips = find_clips(grid_root)[:8]
    crops = CropCache(cache, cfg)
    frames = np.stack([normalise(crops.get(c)) for c in clips])
    texts = [h.text for h in greedy_decode_batch(model.logprobs(frames), None, cfg.vocabulary)]
    assert summarise([c.text for c in clips], texts)["cer"] <= 0.05


def test_files_history_and_checkpoints(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    out = tmp_path / "run"
    result = backend.train(options(grid_root, out, cache))
    assert {p.name for p in out.iterdir()} == {
        "last.ckpt",
        "last.safetensors",
        "best.ckpt",
        "best.safetensors",
        "history.jsonl",
        "words.txt",  # the training texts' words, for the lexicon decoder
    }
    assert result.last == out / "last.safetensors" and result.best == out / "best.safetensors"
    lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert lines == result.history and [h["epoch"] for h in lines] == [1, 2]
    for h in lines:
        assert {"epoch", "lr", "train_loss", "val_loss", "metrics", "seconds", "clips_per_second"} <= h.keys()
        assert {"greedy_cer", "greedy_wer", "greedy_sentence_accuracy", "beam_cer", "beam_wer"} <= h["metrics"].keys()
        assert h["lr"] == pytest.approx(1e-4) and np.isfinite(h["train_loss"]) and h["clips_per_second"] > 0
    ckpt = load_checkpoint(out / "last.safetensors")
    assert ckpt.config == TINY
    assert ckpt.trained_on["max_clips"] == 4 and ckpt.metrics["epoch"] == 2
    best = min(lines, key=lambda h: (h["metrics"]["greedy_wer"], h["val_loss"]))
    assert load_checkpoint(out / "best.safetensors").metrics["epoch"] == best["epoch"]
    payload = load_training_checkpoint(out / "last.ckpt")  # weights_only=True: plain data only
    assert payload["epoch"] == 2 and json.loads(payload["history"]) == lines
    assert set(payload["rng"]) >= {"python", "numpy", "torch"}
    assert torch.equal(payload["model"]["classifier.weight"], torch.from_numpy(ckpt.tensors["classifier.weight"]))


def test_resume_equals_uninterrupted_run(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    straight = backend.train(options(grid_root, tmp_path / "a", cache, mirror=True, frame_jitter=0.1))
    first = backend.train(options(grid_root, tmp_path / "b", cache, mirror=True, frame_jitter=0.1, epochs=1))
    assert len(first.history) == 1
    resumed = backend.train(options(grid_root, tmp_path / "b", cache, mirror=True, frame_jitter=0.1, resume=True))
    a, b = weights(straight.last), weights(resumed.last)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    drop = ("seconds", "clips_per_second")
    assert [{k: v for k, v in h.items() if k not in drop} for h in straight.history] == [
        {k: v for k, v in h.items() if k not in drop} for h in resumed.history
    ]
    # Different seeds really train differently (the comparison above is not vacuous).
    other = backend.train(options(grid_root, tmp_path / "c", cache, mirror=True, frame_jitter=0.1, seed=1, epochs=1))
    assert not np.array_equal(weights(other.last)["classifier.weight"], weights(first.last)["classifier.weight"])


def test_a_resume_with_nothing_left_to_train_says_so(
    grid_root: Path, cache: Path, tmp_path: Path, one_thread: None, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.train(options(grid_root, tmp_path / "r", cache, epochs=2, beam_width=0))
    capsys.readouterr()
    result = backend.train(options(grid_root, tmp_path / "r", cache, epochs=1, beam_width=0, resume=True))
    assert len(result.history) == 2
    said = capsys.readouterr()
    assert "it has trained 2 of --epochs 1: nothing more to train (a larger --epochs goes on)" in said.out + said.err


def test_time_limit_stops_after_an_epoch(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    result = backend.train(options(grid_root, tmp_path / "r", cache, epochs=5, time_limit=1e-6, beam_width=0))
    assert [h["epoch"] for h in result.history] == [1]
    assert load_training_checkpoint(tmp_path / "r" / "last.ckpt")["epoch"] == 1


def test_resume_errors(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    with pytest.raises(CheckpointError, match="nothing to resume"):
        backend.train(options(grid_root, tmp_path / "none", cache, resume=True))
    backend.train(options(grid_root, tmp_path / "r", cache, epochs=1, beam_width=0))
    other = TINY.with_(rnn_hidden=12)
    with pytest.raises(CheckpointError, match="another configuration"):
        backend.train(options(grid_root, tmp_path / "r", cache, config=other, resume=True))
    with pytest.raises(CheckpointError, match=r"val_fraction 0\.25 \(now 0\.5\)"):
        backend.train(options(grid_root, tmp_path / "r", cache, val_fraction=0.5, resume=True))
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"bad\.ckpt"):
        load_training_checkpoint(tmp_path / "bad.ckpt")


def test_resume_refuses_a_data_set_that_changed(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    """The same options on a manifest whose rows changed would train and validate on other clips."""
    from lipread.data.grid import sentence_from_name

    def manifest(names: list[str]) -> Path:
        path = tmp_path / "list.csv"
        rows = "".join(f"{grid_root / 's1' / n}.mp4,{sentence_from_name(n)}\n" for n in names)
        path.write_text("video,text\n" + rows, encoding="utf-8")
        return path

    first = manifest(["bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a"])
    backend.train(options(first, tmp_path / "run", cache, epochs=1, beam_width=0))
    backend.train(options(first, tmp_path / "run", cache, epochs=2, beam_width=0, resume=True))  # unchanged: goes on
    changed = manifest(["bbal6n", "bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a"])
    with pytest.raises(CheckpointError, match=r"the data set's clips changed since this run started"):
        backend.train(options(changed, tmp_path / "run", cache, epochs=3, beam_width=0, resume=True))


def test_ctc_loss_per_clip_and_zero_infinity() -> None:
    lp = torch.log_softmax(torch.randn(2, 6, 5), dim=-1)
    examples = Examples([], [np.zeros((6, 1, 1, 1), np.uint8)] * 2, [np.array([1, 2]), np.array([1, 2, 3, 4, 1, 2, 3])])
    batch = make_batch(examples, np.array([0, 1]), None, NO_AUGMENTATION)
    loss = ctc_loss(lp, batch)
    assert loss.shape == (2,)
    # clip 1 needs 7 labels in 6 frames: impossible, so its infinite loss is zeroed
    assert loss[1].item() == 0.0 and loss[0].item() > 0
    expected = torch.nn.functional.ctc_loss(lp[:1].transpose(0, 1), torch.tensor([[1, 2]]), [6], [2], reduction="sum")
    assert loss[0].item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("seed", range(6))
def test_ctc_loss_with_allowed_labels_sums_only_allowed_alignments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t_len, v = 6, 4
    lp = torch.log_softmax(torch.from_numpy(rng.standard_normal((2, t_len, v))), dim=-1).float()
    targets = [[1, 2, 2], [3, 1]]
    allowed = rng.random((2, t_len, v)) < 0.7
    allowed[:, :, 0] = True
    allowed[0, :, 1] = [True, True, False, False, False, False]  # label 1 early in clip 0
    examples = Examples([], [np.zeros((t_len, 1, 1, 1), np.uint8)] * 2, [np.array(x) for x in targets])
    batch = make_batch(examples, np.array([0, 1]), None, NO_AUGMENTATION)
    batch.allowed = torch.from_numpy(allowed)
    loss = ctc_loss(lp, batch).numpy()
    for b in range(2):
        expected = allowed_paths_nll(lp[b].numpy().astype(np.float64), targets[b], allowed[b])
        if math.isinf(expected):
            assert loss[b] == 0.0  # no allowed alignment: zeroed like any impossible clip
        else:
            assert loss[b] == pytest.approx(expected, rel=1e-5)
    # Allowing everything is plain CTC; forbidding more never lowers the loss.
    batch.allowed = torch.ones((2, t_len, v), dtype=torch.bool)
    plain = ctc_loss(lp, make_batch(examples, np.array([0, 1]), None, NO_AUGMENTATION))
    torch.testing.assert_close(ctc_loss(lp, batch), plain)
    assert (loss[loss > 0] >= plain.numpy()[loss > 0] - 1e-5).all()


def test_allowed_labels_follow_word_cuts_and_frame_jitter(grid_root: Path) -> None:
    """Each frame's allowed labels, and its recorded source, are those of the clip frame it came from, through
    cuts and jitter."""
    clips = [c for c in find_clips(grid_root) if c.alignment is not None][:6]
    vocab = get_preset("lipnet").vocabulary
    # Frame i holds the pixel values i, 0, 255, 0, i (the same mirrored): after standardisation the frame
    # number can be read back.
    crops = [np.array([[[[i], [0], [255], [0], [i]]] for i in range(75)], np.uint8) for _ in clips]
    examples = Examples(clips, crops, [np.asarray(vocab.encode(c.text)) for c in clips], vocab)
    tied = 0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        batch = make_batch(examples, np.arange(len(clips)), rng, LIPNET_AUGMENTATION, word_clips=0.5, align_tolerance=1)
        assert batch.allowed is not None and batch.allowed.shape == (len(clips), batch.frames.shape[1], vocab.size)
        ends = np.cumsum(batch.target_lengths.numpy())
        for b, clip in enumerate(clips):
            x = batch.frames[b, : batch.lengths[b], 0].numpy().astype(np.float64)  # (T', 5, 1)
            scale = 255 / (x[:, 2, 0] - x[:, 1, 0])
            source = np.rint(x[:, 0, 0] * scale - x[:, 1, 0] * scale).astype(int)
            assert batch.sources is not None
            np.testing.assert_array_equal(batch.sources[b], source)  # the batch says where each frame came from
            expected = emission_mask(word_frames(clip), 75, vocab, 1)[source]
            target = batch.targets[ends[b] - batch.target_lengths[b] : ends[b]].numpy()
            if alignment_exists(expected, target):
                tied += 1
            else:  # no alignment within the word times: plain CTC
                expected = np.ones_like(expected)
            np.testing.assert_array_equal(batch.allowed[b, : batch.lengths[b]].numpy(), expected)
    assert tied >= 12  # most clips are tied to their word times
    plain = make_batch(examples, np.arange(len(clips)), np.random.default_rng(0), LIPNET_AUGMENTATION, word_clips=0.5)
    assert plain.allowed is None
    # The batch is otherwise the one plain CTC trains on: the same random choices.
    tied = make_batch(
        examples,
        np.arange(len(clips)),
        np.random.default_rng(0),
        LIPNET_AUGMENTATION,
        word_clips=0.5,
        align_tolerance=1,
    )
    assert torch.equal(plain.frames, tied.frames) and torch.equal(plain.targets, tied.targets)


def test_init_and_aligned_training(grid_root: Path, cache: Path, tmp_path: Path, one_thread: None) -> None:
    """``init`` starts from a checkpoint's weights; alignment-tied CTC trains to finite losses."""
    start = backend.train(options(grid_root, tmp_path / "start", cache, epochs=1, beam_width=0)).last
    # Learning rate 0: every weight stays the initial one (BatchNorm statistics still move).
    tuned = backend.train(
        options(grid_root, tmp_path / "tuned", cache, epochs=1, lr=0.0, beam_width=0, init=start, align_tolerance=2)
    )
    before, after = weights(start), weights(tuned.last)
    fresh = weights(backend.train(options(grid_root, tmp_path / "fresh", cache, epochs=1, lr=0.0, beam_width=0)).last)
    for k in before:
        if "running" not in k:
            assert np.array_equal(before[k], after[k]), k
    assert not np.array_equal(fresh["classifier.weight"], before["classifier.weight"])
    assert np.isfinite(tuned.history[0]["train_loss"]) and tuned.history[0]["train_loss"] > 0
    assert load_checkpoint(tuned.last).trained_on["init"] == str(start)
    with pytest.raises(CheckpointError, match="another configuration"):
        backend.train(options(grid_root, tmp_path / "x", cache, config=TINY.with_(rnn_hidden=12), init=start))


def test_batches_pad_normalise_and_shard() -> None:
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (n, 4, 6, 3), dtype=np.uint8) for n in (5, 3, 4)]
    examples = Examples([], crops, [np.array([1])] * 3)
    batch = make_batch(examples, np.array([1, 0]), None, NO_AUGMENTATION, pad_multiple=4)
    assert batch.frames.shape == (2, 8, 4, 6, 3) and batch.lengths.tolist() == [3, 5]
    np.testing.assert_allclose(batch.frames[0, :3].numpy(), normalise(crops[1]), atol=1e-6)
    assert not batch.frames[0, 3:].any() and not batch.frames[1, 5:].any()
    # every epoch shuffles differently; shards are disjoint, equal and cover every clip
    assert [b.tolist() for b in epoch_batches(10, 3, 0, 0)] != [b.tolist() for b in epoch_batches(10, 3, 0, 1)]
    shards = [np.concatenate(epoch_batches(9, 2, 0, 4, rank, 2)) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert set(np.concatenate(shards).tolist()) == set(range(9))
    assert np.array_equal(np.sort(np.concatenate(epoch_batches(9, 4, 0, 4))), np.arange(9))


def test_word_clips_replace_clip_and_target(grid_root: Path) -> None:
    clips = find_clips(grid_root)[:4]
    vocab = get_preset("lipnet").vocabulary
    crops = [np.zeros((75, 2, 2, 1), np.uint8) for _ in clips]
    examples = Examples(clips, crops, [np.asarray(vocab.encode(c.text)) for c in clips], vocab)
    batch = make_batch(examples, np.arange(4), np.random.default_rng(0), NO_AUGMENTATION, word_clips=1.0)
    ends = np.cumsum(batch.target_lengths.numpy())
    for b, clip in enumerate(clips):
        text = vocab.decode(batch.targets.numpy()[ends[b] - batch.target_lengths[b] : ends[b]].tolist())
        assert text in clip.text and len(text.split()) <= 3 and text != clip.text
        assert 2 < batch.lengths[b] < 75
    whole = make_batch(examples, np.arange(4), np.random.default_rng(0), NO_AUGMENTATION, word_clips=0.0)
    assert whole.lengths.tolist() == [75] * 4 and whole.target_lengths.tolist() == [len(c.text) for c in clips]


def test_command_line_builds_options(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    parser_for_train = train_command.add_parser(parser.add_subparsers())
    args = parser_for_train.parse_args(
        [
            "data",
            "-o",
            str(tmp_path),
            "--preset",
            "lipnet-notebook",
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--lr",
            "3e-4",
            "--no-mirror",
            "--frame-jitter",
            "0",
            "--word-clips",
            "0.25",
            "--align-tolerance",
            "3",
            "--init",
            "start.safetensors",
            "--conv-dropout",
            "0",
            "--workers",
            "0",
            "--amp",
            "--time-limit",
            "90",
            "--resume",
            "--max-clips",
            "10",
            "--train-on-validation",
            "--extra",
            "clip=5.0",
        ]
    )
    opts = train_command.options_from_args(args)
    assert opts.model_config == get_preset("lipnet-notebook")
    assert (opts.epochs, opts.batch_size, opts.lr, opts.mirror, opts.frame_jitter) == (3, 16, 3e-4, False, 0.0)
    assert (opts.workers, opts.amp, opts.time_limit, opts.resume, opts.max_clips) == (0, True, 90.0, True, 10)
    assert (opts.word_clips, opts.conv_dropout, opts.align_tolerance, opts.init) == (
        0.25,
        0.0,
        3,
        Path("start.safetensors"),
    )
    assert opts.train_on_validation and opts.extra == {"clip": 5.0} and opts.output == tmp_path
    defaults = train_command.options_from_args(parser_for_train.parse_args(["d", "-o", "o"]))
    # the command's --epochs count the warm restart's too (lipread.data.restart); one schedule's defaults are 68
    assert defaults == TrainOptions(data=Path("d"), output=Path("o"), epochs=RECIPE_EPOCHS)
    plain = parser_for_train.parse_args(["d", "-o", "o", "--align-tolerance", "none"])
    assert defaults.align_tolerance == 3 and train_command.options_from_args(plain).align_tolerance is None
    (tmp_path / "cfg.json").write_text(TINY.dumps())
    args = parser_for_train.parse_args(["d", "-o", "o", "--model-config", str(tmp_path / "cfg.json")])
    assert train_command.options_from_args(args).model_config == TINY


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_mixed_precision_training(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    result = backend.train(options(grid_root, tmp_path / "gpu", cache, device="cuda", epochs=2, batch_size=4))
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in result.history)
    payload = load_training_checkpoint(tmp_path / "gpu" / "last.ckpt")
    assert payload["scaler"]  # fp16 autocast with a gradient scaler
    resumed = backend.train(options(grid_root, tmp_path / "gpu", cache, device="cuda", epochs=3, resume=True))
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]


@cuda
def test_cuda_and_cpu_agree() -> None:
    model = backend.build(get_preset("lipnet"), seed=0)
    x = np.random.default_rng(0).standard_normal((2, 30, 50, 100, 3)).astype(np.float32)
    lengths = np.array([30, 21], np.int32)
    on_cpu = model.logprobs(x, lengths)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # full float32 convolutions for the comparison
    try:
        on_gpu = model.to("cuda").logprobs(x, lengths)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    valid = np.arange(30)[None, :] < lengths[:, None]
    assert np.abs(on_cpu - on_gpu)[valid].max() <= 1e-3


def test_the_backend_refuses_extra_options(tmp_path: Path) -> None:
    from lipread.backend import get_backend
    from lipread.errors import BackendError

    with pytest.raises(BackendError, match=r"the torch backend takes no --extra options \(clip\)"):
        get_backend("torch").train(TrainOptions(data=tmp_path, output=tmp_path / "run", extra={"clip": 5.0}))
    assert not (tmp_path / "run").exists()
