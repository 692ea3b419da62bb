"""tools/context_consistency.py: the cut-and-compare fine-tune term, the experiment behind training.md's row."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from script_module import load_script

torch = pytest.importorskip("torch", reason="the experiment trains with PyTorch")

from lipread.config import get_preset  # noqa: E402
from lipread.data.training import emission_mask  # noqa: E402
from lipread.video.preprocess import normalise  # noqa: E402
from lipread.vocab import get_vocabulary  # noqa: E402
from lipread_torch.data import Batch  # noqa: E402
from lipread_torch.model import LipNet  # noqa: E402

TOOL = Path(__file__).resolve().parents[1] / "tools" / "context_consistency.py"
VOCABULARY = get_vocabulary("lipnet")
TOLERANCE = 3


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def _batch(crops: list[np.ndarray], words: list[tuple[tuple[str, int, int], ...]], shape: tuple[int, ...]) -> Batch:
    """A batch as training makes it: each clip standardised over its frames, word times as allowed labels."""
    lengths = [len(c) for c in crops]
    frames = torch.zeros((len(crops), max(lengths), *shape))
    allowed = torch.zeros((len(crops), max(lengths), VOCABULARY.size), dtype=torch.bool)
    ids = [VOCABULARY.encode(" ".join(w for w, _, _ in clip)) for clip in words]
    for b, (clip, times) in enumerate(zip(crops, words)):
        frames[b, : len(clip)] = torch.from_numpy(normalise(clip))
        allowed[b, : len(clip)] = torch.from_numpy(emission_mask(times, len(clip), VOCABULARY, TOLERANCE))
    return Batch(
        frames,
        torch.tensor(lengths),
        torch.tensor([i for x in ids for i in x]),
        torch.tensor([len(x) for x in ids]),
        np.arange(len(crops)),
        allowed,
        [np.arange(n) for n in lengths],
    )


@given(
    first=st.integers(0, 30),
    widths=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    tail=st.integers(0, 30),
    margin=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_cut_keeps_the_speech_and_its_margin(
    tool: ModuleType, first: int, widths: list[int], tail: int, margin: int, seed: int
) -> None:
    times, t = [], first
    for i, width in enumerate(widths):
        times.append(("bin" if i % 2 else "a", t, t + width))
        t += width
    length = t + tail
    batch = _batch([np.zeros((length, 1, 1, 1), np.uint8)], [tuple(times)], (1, 1, 1))
    ((start, end),) = tool.cut_spans(batch, np.random.default_rng(seed), margin)
    assert 0 <= start <= max(0, first - TOLERANCE - margin)
    assert min(length, t + TOLERANCE + margin) <= end <= length


def test_cuts_are_drawn_and_a_clip_without_word_times_stays_whole(tool: ModuleType) -> None:
    times = (("bin", 20, 30), ("blue", 30, 40))
    batch = _batch([np.zeros((75, 1, 1, 1), np.uint8)], [times], (1, 1, 1))
    spans = {tuple(tool.cut_spans(batch, np.random.default_rng(seed), 2)[0]) for seed in range(50)}
    assert len({s for s, _ in spans}) > 5 and len({e for _, e in spans}) > 5
    assert all(0 <= s <= 15 and 45 <= e <= 75 for s, e in spans)
    plain = Batch(batch.frames, batch.lengths, batch.targets, batch.target_lengths, batch.indices, None, batch.sources)
    assert tool.cut_spans(plain, np.random.default_rng(0), 2) == [(0, 75)]


def test_a_cut_is_standardised_as_its_crops_alone_would_be(tool: ModuleType) -> None:
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, (n, 4, 6, 3), dtype=np.uint8) for n in (30, 22)]
    crops[0][:8] = 40  # a still, dark lead-in: the whole clip's mean and spread differ from the cut's
    times = [(("set", 10, 16), ("red", 16, 20)), (("now", 8, 12),)]
    batch = _batch(crops, times, (4, 6, 3))
    spans = [(8, 27), (3, 22)]
    cut = tool.cut_batch(batch, spans)
    assert cut.lengths.tolist() == [19, 19] and cut.frames.shape[1] == 19
    for b, (start, end) in enumerate(spans):
        np.testing.assert_allclose(cut.frames[b, : end - start].numpy(), normalise(crops[b][start:end]), atol=1e-4)
        assert torch.equal(cut.allowed[b, : end - start], batch.allowed[b, start:end])
        assert cut.sources[b].tolist() == list(range(start, end))
    assert torch.equal(cut.targets, batch.targets)


def test_the_divergence_is_symmetric_kl_on_the_shared_frames(tool: ModuleType) -> None:
    torch.manual_seed(0)
    full = torch.randn(2, 12, VOCABULARY.size).log_softmax(-1)
    spans = [(2, 9), (0, 12)]
    same = torch.zeros(2, 12, VOCABULARY.size)
    same[0, :7], same[1] = full[0, 2:9], full[1]
    same[0, 7:] = torch.randn(5, VOCABULARY.size).log_softmax(-1)  # past the cut: not compared
    assert tool.shared_divergence(full, same, spans).abs().max() < 1e-5
    other = torch.randn(2, 12, VOCABULARY.size).log_softmax(-1)
    got = tool.shared_divergence(full, other, spans)
    for b, (start, end) in enumerate(spans):
        p, q = full[b, start:end], other[b, : end - start]
        kl = torch.nn.functional.kl_div
        expected = 0.5 * (kl(q, p, log_target=True, reduction="sum") + kl(p, q, log_target=True, reduction="sum"))
        assert float(got[b]) == pytest.approx(float(expected), rel=1e-5)
    whole = [(0, 12), (0, 12)]  # with nothing cut, the two readings may trade places
    assert torch.allclose(tool.shared_divergence(full, other, whole), tool.shared_divergence(other, full, whole))


def test_the_term_trains_the_model_towards_its_reading_of_the_whole_clip(tool: ModuleType) -> None:
    torch.manual_seed(0)
    config = get_preset("lipnet").with_(rnn_hidden=8, rnn_layers=1, height=16, width=32)
    net = LipNet(config).eval()  # no dropout: both readings of the term below are the same
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (40, 16, 32, 3), dtype=np.uint8) for _ in range(2)]
    times = [(("bin", 12, 18), ("blue", 18, 26)), (("now", 15, 25),)]
    batch = _batch(crops, times, (16, 32, 3))
    term = tool.make_term(2, 1.0)
    lp = net(batch.frames, batch.lengths)
    loss = term(net, lp, batch, np.random.default_rng(1), VOCABULARY)
    assert loss.ndim == 0 and torch.isfinite(loss) and float(loss.detach()) > 0
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads)
    # without the divergence, the term is the cut's CTC alone (the same cuts): smaller by the divergence
    ctc_only = tool.make_term(2, 0.0)(net, lp.detach(), batch, np.random.default_rng(1), VOCABULARY).detach()
    assert 0 < float(loss.detach()) - float(ctc_only) < float(loss.detach())
