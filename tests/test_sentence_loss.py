"""tools/sentence_loss.py: the sentence-level training term, the experiment behind training.md's row."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from script_module import load_script

torch = pytest.importorskip("torch", reason="the experiment trains with PyTorch")

from lipread.data.grid import GRAMMAR  # noqa: E402
from lipread.vocab import get_vocabulary  # noqa: E402
from lipread_torch.data import Batch  # noqa: E402

TOOL = Path(__file__).resolve().parents[1] / "tools" / "sentence_loss.py"
VOCABULARY = get_vocabulary("lipnet")


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


sentences = st.tuples(*(st.sampled_from(slot) for slot in GRAMMAR)).map(" ".join)


@given(sentence=sentences, start=st.integers(0, 5), size=st.integers(1, 6))
def test_neighbours_change_one_word_within_its_slot(tool: ModuleType, sentence: str, start: int, size: int) -> None:
    words = sentence.split()[start : start + size]
    slots = [next(s for s in GRAMMAR if w in s) for w in words]
    found = tool.neighbours(" ".join(words))
    assert len(found) == len(set(found)) == sum(len(s) - 1 for s in slots)  # 45 for a whole sentence
    for other in found:
        changed = [(a, b, s) for a, b, s in zip(words, other.split(), slots) if a != b]
        assert len(other.split()) == len(words) and len(changed) == 1
        assert changed[0][1] in changed[0][2]


def _batch(texts: list[str], lengths: list[int]) -> Batch:
    ids = [VOCABULARY.encode(t) for t in texts]
    return Batch(
        torch.zeros(len(texts), max(lengths), 1, 1, 1),
        torch.tensor(lengths),
        torch.tensor([i for x in ids for i in x]),
        torch.tensor([len(x) for x in ids]),
        np.arange(len(texts)),
    )


def _nll(logprobs: torch.Tensor, text: str, length: int) -> float:
    ids = torch.tensor([VOCABULARY.encode(text)])
    lp = logprobs[:length, None].double()
    return float(
        torch.nn.functional.ctc_loss(lp, ids, torch.tensor([length]), torch.tensor([ids.shape[1]]), reduction="sum")
    )


def test_the_loss_is_the_cross_entropy_of_the_text_among_its_neighbours(tool: ModuleType) -> None:
    """Against CTC itself: a sentence counts when it has an alignment in the clip's frames (a finite loss)."""
    torch.manual_seed(0)
    # "by z" in 5 frames: "with z" needs 6; "now" in 4: "soon" has 4 letters but needs 5 (the two o's need a
    # blank between them); "green" in 5 frames cannot be aligned at all: nothing to learn from that clip
    texts, lengths = ["red at f", "by z", "now", "green"], [14, 5, 4, 5]
    logprobs = torch.randn(4, 14, VOCABULARY.size).log_softmax(-1)
    loss = tool.sentence_loss(logprobs, _batch(texts, lengths), VOCABULARY)
    fits = {}
    for b, (text, length) in enumerate(zip(texts, lengths)):
        scores = -torch.tensor([_nll(logprobs[b], c, length) for c in [text, *tool.neighbours(text)]])
        fits[text] = int(torch.isfinite(scores).sum())
        expected = torch.logsumexp(scores, 0) - scores[0] if torch.isfinite(scores[0]) else torch.tensor(0.0)
        assert float(loss[b]) == pytest.approx(float(expected), rel=1e-4, abs=1e-4)
    assert fits == {"red at f": 31, "by z": 27, "now": 1, "green": 3}
    assert float(loss[2]) == float(loss[3]) == 0.0


def test_neighbours_that_cannot_fit_leave_the_gradient_finite(tool: ModuleType) -> None:
    logits = torch.randn(2, 5, VOCABULARY.size, requires_grad=True)
    tool.sentence_loss(logits.log_softmax(-1), _batch(["by z", "now"], [5, 5]), VOCABULARY).sum().backward()
    assert logits.grad is not None and bool(torch.isfinite(logits.grad).all()) and logits.grad.abs().sum() > 0


def test_a_step_down_the_loss_favours_the_text_over_its_neighbours(tool: ModuleType) -> None:
    torch.manual_seed(1)
    texts, lengths = ["bin blue at d two now", "set red by t nine soon"], [40, 40]
    batch = _batch(texts, lengths)
    logits = torch.randn(2, 40, VOCABULARY.size, requires_grad=True)
    rivals = ["bin blue at t two now", "set red by d nine soon"]  # each text's look-alike

    def margins() -> list[float]:
        lp = logits.detach().log_softmax(-1)
        return [_nll(lp[b], rival, 40) - _nll(lp[b], text, 40) for b, (text, rival) in enumerate(zip(texts, rivals))]

    before, margins_before = tool.sentence_loss(logits.log_softmax(-1), batch, VOCABULARY), margins()
    before.sum().backward()
    with torch.no_grad():
        logits -= 1.0 * logits.grad
    after = tool.sentence_loss(logits.log_softmax(-1), batch, VOCABULARY)
    assert (after < before).all() and (before > 1.0).all()
    # the text moves away from its look-alike: the rival's likelihood falls against the text's
    assert all(a > b for a, b in zip(margins(), margins_before))
