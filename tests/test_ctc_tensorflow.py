"""lipread's beam search against TensorFlow's own decoder, ``tf.nn.ctc_beam_search_decoder``."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from lipread.decoding import beam_search_batch  # noqa: E402


def tensorflow_best(lp: np.ndarray, width: int) -> list[tuple[int, ...]]:
    """TensorFlow's best labelling of each clip of ``(B, T, V)`` log-probabilities, in lipread's ids: TensorFlow's
    blank is the last class, so the classes are rotated on the way in and the labels shifted back."""
    inputs = np.ascontiguousarray(np.roll(lp, -1, axis=-1).transpose(1, 0, 2))
    lengths = np.full(lp.shape[0], lp.shape[1], np.int32)
    decoded, _ = tf.nn.ctc_beam_search_decoder(inputs, lengths, beam_width=width, top_paths=1)
    dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
    best = [tuple(int(x) + 1 for x in row if x >= 0) for row in dense]
    return best + [()] * (lp.shape[0] - len(best))


@pytest.mark.parametrize(("scale", "classes", "width"), [(1.0, 28, 10), (1.0, 28, 100), (3.0, 41, 100)])
def test_like_tensorflow_gives_tensorflows_best(scale: float, classes: int, width: int) -> None:
    rng = np.random.default_rng(classes + width)
    logits = rng.normal(size=(24, 75, classes)) * scale
    lp = (logits - np.log(np.exp(logits).sum(-1, keepdims=True))).astype(np.float32)
    theirs = tensorflow_best(lp, width)
    ours = [hyps[0].tokens for hyps in beam_search_batch(lp, beam_width=width, like_tensorflow=True)]
    assert ours == theirs
    if scale == 1.0:  # flat inputs: the plain prefix search (the default) ends elsewhere on some clips
        plain = [hyps[0].tokens for hyps in beam_search_batch(lp, beam_width=width)]
        assert plain != theirs
