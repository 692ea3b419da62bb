"""Knowing when the model cannot read: how much a clip looks like the clips the model was trained on.

A model reads what it was trained on (the shipped one: GRID speaker 1, filmed as in GRID) and gives confident
nonsense on anything else. So every :class:`~lipread.api.Transcript` carries a *domain score* in [0, 1] and an
``in_domain`` flag, computed from what the model sees and what it emits, against the same statistics of its
training clips, which a model file stores in its metadata (``trained_on["domain"]``, written by
``tools/domain_stats.py``; a model without them gives None for both).

What is measured on a clip (:func:`summarise`), from the model input ``float32 (T, H, W, C)`` (the mouth crops,
standardised per clip) and the log-probabilities ``(T, V)``, over the clip's speech (:func:`speech_frames`: the
frames within :data:`SPAN_MARGIN` frames of one the model hears speech in, so that still or silent frames before
and after the speech, which users' videos have more of than the training clips, and the pauses between the
sentences of a clip of several are not measured; they still change the measurement a little, through the
standardisation of the whole clip's input):

- **appearance**: the clip's mean mouth crop, averaged down to a coarse grid of :data:`GRID` cells, projected on
  the first :data:`COMPONENTS` principal components of the training clips' mean crops (the ways speaker 1's
  mouth varies), plus the distance from that subspace (what no training mouth looks like);
- **motion**: the mean absolute change of the standardised crops from one frame to the next;
- **posteriors**: the share of frames whose most likely class is the blank, the mean over frames of the
  highest class probability, and the mean entropy of the class distribution (nats).

These :data:`FEATURES` (after the transforms of :func:`features`, which make them closer to normal) are
compared with their mean and covariance over the training clips: the squared Mahalanobis distance ``d2``, and
the score is the chance that a clip drawn from a normal distribution with the training clips' statistics lies
at least that far away (the chi-square tail with as many degrees of freedom as features). A clip is
``in_domain`` when its score is at least :attr:`DomainStats.threshold`, set when the statistics are computed
so that only :data:`FLAG_SHARE` of the training clips fall below it. A long clip, read in windows, has no
whole-clip input to measure: its score uses the posterior features only (the same distribution's marginal).

A colour model trained on clips made grey as well (``lipread train``'s grey fine-tune) reads black-and-white
video, whose mouths look like no colour training clip's. Its statistics carry a second set, measured on the
training clips made grey (:attr:`DomainStats.grey`), against which a clip whose input has no colour
(:attr:`ClipSummary.grey`) is judged.

:func:`calibrate_confidence` maps a word's raw confidence to the chance that the word is right when the
statistics carry a calibration for the decoder that read it (``"confidence"``: per decoder name, the two
coefficients of a logistic fit of word correctness on the logit of the raw confidence, fitted on the training
clips). Each decoder needs its own (the grammar decoder, which corrects many letters the model is unsure of,
makes the raw figure too low); a decoder without one keeps the raw figure. ``tools/domain_stats.py`` fits one
for the model's own decoder by default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "COMPONENTS",
    "FEATURES",
    "FLAG_SHARE",
    "GREY_SPREAD",
    "GRID",
    "SPAN_MARGIN",
    "WARNING",
    "ClipSummary",
    "DomainStats",
    "calibrate_confidence",
    "expected_calibration_error",
    "features",
    "fit_confidence",
    "speech_frames",
    "summarise",
    "word_hits",
]

GRID = (10, 20)
"""Rows and columns of the coarse grid the mean mouth crop is averaged to (5x5 pixel cells of a 50x100 crop)."""
COMPONENTS = 8
"""Principal components of the training clips' mean crops that describe how the training mouths vary."""
SPAN_MARGIN = 5
"""Frames (0.2 s at 25 fps) kept on either side of the speech that a clip's features are measured over. Within a
GRID sentence the model hears speech at least every 4 frames (the longest gap on 300 training clips: 3 frames), so
a sentence is measured whole, from its first word to its last."""
FLAG_SHARE = 0.005
GREY_SPREAD = 0.2
"""A clip whose model input differs between colour channels by less than this on average (in units of the clip's
standard deviation) has no colour (:attr:`ClipSummary.grey`). Mouths filmed in colour measured 0.73-0.78 on GRID
clips; a black-and-white video encoded as MP4 about 0.05 (the rounding of its chroma); the clip's luma in all
three channels exactly 0."""
"""The share of the training clips whose score falls below :attr:`DomainStats.threshold`."""
POSTERIOR_FEATURES = ("blank", "peak", "entropy")
FEATURES = (*(f"appearance_{i}" for i in range(COMPONENTS)), "appearance_residual", "motion", *POSTERIOR_FEATURES)
"""The names of the features compared with the training clips', in order."""
WARNING = "this video looks unlike what the model was trained on; the text is probably wrong"
"""What the CLI prints about a clip that is not ``in_domain``."""
VERSION = 2
_EPS = 1e-3


@dataclass(frozen=True)
class ClipSummary:
    """What :func:`summarise` measured on one clip, over the frames of its :func:`speech_frames`.

    Attributes:
        crop: the mean model input over those frames, averaged to :data:`GRID` cells, flattened:
            ``float64 (rows * columns * C,)``; None when the input was not kept (a long clip).
        motion: mean absolute frame-to-frame change of the model input (in units of the clip's standard
            deviation); None with ``crop``.
        blank: share of those frames whose most likely class is the blank, in [0, 1].
        peak: mean over those frames of the highest class probability, in [0, 1].
        entropy: mean over those frames of the entropy of the class distribution, in nats.
        grey: the input has three channels that differ by less than :data:`GREY_SPREAD` on average: a
            black-and-white video.
    """

    crop: np.ndarray | None
    motion: float | None
    blank: float
    peak: float
    entropy: float
    grey: bool = False


def _grid_mean(image: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` averaged over :data:`GRID` cells of (nearly) equal size -> ``(rows, columns, C)``."""
    rows, cols = GRID
    h, w = image.shape[:2]
    r_edges = np.linspace(0, h, min(rows, h) + 1).astype(int)[:-1]
    c_edges = np.linspace(0, w, min(cols, w) + 1).astype(int)[:-1]
    summed = np.add.reduceat(np.add.reduceat(image, r_edges, axis=0), c_edges, axis=1)
    counts = np.diff(np.append(r_edges, h))[:, None, None] * np.diff(np.append(c_edges, w))[None, :, None]
    return summed / counts


def speech_frames(logprobs: np.ndarray, margin: int = SPAN_MARGIN) -> np.ndarray:
    """``bool (T,)``: the frames of a clip that its features are measured over: those within ``margin`` frames
    of a frame whose most likely class is not the blank; every frame when the model hears no speech at all.

    Args:
        logprobs: the model's log-probabilities ``(T, V)``, blank = class 0.
    """
    lp = np.asarray(logprobs)
    speech = np.flatnonzero(lp.argmax(axis=1) != 0)
    if speech.size == 0:
        return np.ones(len(lp), bool)
    edges = np.zeros(len(lp) + 1, np.int64)  # +1 where a frame's reach starts, -1 after it ends
    np.add.at(edges, np.maximum(speech - margin, 0), 1)
    np.add.at(edges, np.minimum(speech + margin + 1, len(lp)), -1)
    return np.cumsum(edges[:-1]) > 0


def summarise(frames: np.ndarray | None, logprobs: np.ndarray) -> ClipSummary:
    """Measure one clip, over its :func:`speech_frames`.

    Args:
        frames: the model input ``float32 (T, H, W, C)`` (see :func:`lipread.video.preprocess.preprocess`), or
            None when it is not at hand (a long clip read in windows).
        logprobs: the model's log-probabilities ``(T, V)``, blank = class 0, ``T >= 1``.
    """
    span = speech_frames(logprobs)
    lp = np.asarray(logprobs, np.float64)[span]
    probs = np.exp(lp)
    blank = float(np.mean(lp.argmax(axis=1) == 0))
    peak = float(probs.max(axis=1).mean())
    entropy = float(-(probs * np.where(probs > 0, lp, 0.0)).sum(axis=1).mean())
    crop = motion = None
    grey = False
    if frames is not None:
        x = np.asarray(frames, np.float32)
        kept = x[span]
        crop = _grid_mean(kept.mean(axis=0, dtype=np.float64)).ravel()
        steps = np.flatnonzero(span[1:] & span[:-1])  # from frame t to t + 1, both measured
        motion = float(np.abs(x[steps + 1] - x[steps]).mean(dtype=np.float64)) if steps.size else 0.0
        if kept.shape[-1] == 3:
            grey = float(np.abs(kept - kept.mean(axis=-1, keepdims=True)).mean(dtype=np.float64)) < GREY_SPREAD
    return ClipSummary(crop, motion, blank, peak, entropy, grey)


def _posterior_features(s: ClipSummary) -> list[float]:
    # logit / log transforms: the raw shares pile up near 0 or 1, where a normal model fits badly
    b = min(max(s.blank, _EPS), 1 - _EPS)
    return [math.log(b / (1 - b)), math.log(1 - s.peak + _EPS), math.log(s.entropy + _EPS)]


def features(s: ClipSummary, crop_mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` of a clip: ``float64 (len(FEATURES),)``, NaN for the appearance and motion features
    of a clip without input (``s.crop is None``).

    Args:
        crop_mean: the training clips' mean of :attr:`ClipSummary.crop`, ``(D,)``.
        components: their first principal components, ``(COMPONENTS, D)``, orthonormal rows.
    """
    n_frames = len(FEATURES) - len(POSTERIOR_FEATURES)
    head = np.full(n_frames, np.nan)
    if s.crop is not None and s.motion is not None:
        if s.crop.shape != crop_mean.shape:
            raise ValueError(f"a crop summary of {s.crop.shape[0]} values; the statistics have {crop_mean.shape[0]}")
        centred = s.crop - crop_mean
        scores = components @ centred
        residual = np.linalg.norm(centred - components.T @ scores) / math.sqrt(centred.size)
        head[:] = [*scores, math.log(residual + _EPS), math.log(s.motion + _EPS)]
    return np.concatenate([head, _posterior_features(s)])


def _chi2_tail(x: float, dof: int) -> float:
    """P(X >= x) for X chi-square with ``dof`` degrees of freedom: the regularised upper incomplete gamma function
    Q(dof / 2, x / 2), by its series below the mean and its continued fraction above (both converge fast there)."""
    if math.isnan(x):
        return 0.0  # no distance to judge by: never called like the training clips
    if x <= 0:
        return 1.0
    a, z = dof / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1:  # the series of the lower function P
        term = total = 1.0 / a
        n = 0
        while term > total * 1e-16 and n < 10_000:
            n += 1
            term *= z / (a + n)
            total += term
        return float(min(max(1.0 - math.exp(log_front + math.log(total)), 0.0), 1.0))
    # the continued fraction of Q, by the modified Lentz method
    tiny = 1e-300
    b = z + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return float(min(max(math.exp(log_front) * h, 0.0), 1.0))


@dataclass(frozen=True)
class DomainStats:
    """The training clips' statistics a model file carries, and the score of a clip against them.

    Attributes:
        crop_mean: mean of the training clips' :attr:`ClipSummary.crop`, ``(D,)``.
        components: the first principal components of those crops, ``(COMPONENTS, D)``.
        mean: mean of the training clips' :func:`features`, ``(F,)``.
        covariance: their covariance, ``(F, F)``.
        threshold: the lowest score still ``in_domain``.
        confidence: decoder name -> ``(a, b)``: the confidence of a word that decoder read is
            ``sigmoid(a * logit(raw) + b)``; a decoder not named keeps the raw confidence.
        clips: how many training clips the statistics come from.
        grey: the same statistics of the training clips made grey (their luma in all three channels), which
            judge a clip without colour (:attr:`ClipSummary.grey`); None for a model that was not trained to
            read such clips, which are then judged against the colour clips (and found unlike them).
    """

    crop_mean: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray
    threshold: float
    confidence: dict[str, tuple[float, float]] = field(default_factory=dict)
    clips: int = 0
    grey: DomainStats | None = None

    def calibration(self, decoder: str) -> tuple[float, float] | None:
        """The ``(a, b)`` of :func:`calibrate_confidence` for words read by ``decoder``, or None."""
        return self.confidence.get(decoder)

    def distance2(self, s: ClipSummary) -> tuple[float, int]:
        """The squared Mahalanobis distance of a clip's features from the training clips', and how many
        features it counts (all, or the posterior features of a clip without input)."""
        f = features(s, self.crop_mean, self.components)
        keep = ~np.isnan(f)
        d = f[keep] - self.mean[keep]
        cov = self.covariance[np.ix_(keep, keep)]
        return float(d @ np.linalg.solve(cov, d)), int(keep.sum())

    def score(self, s: ClipSummary) -> float:
        """The domain score in [0, 1]: near 1 for a clip like the training clips, near 0 for one unlike them."""
        d2, dof = self.distance2(s)
        return _chi2_tail(d2, dof)

    def judge(self, s: ClipSummary) -> tuple[float, bool]:
        """``(score, in_domain)`` of a clip, against :attr:`grey` for a clip without colour when there is one."""
        if s.grey and self.grey is not None:
            return self.grey.judge(s)
        score = self.score(s)
        return score, score >= self.threshold

    @classmethod
    def fit(
        cls, summaries: Sequence[ClipSummary], confidence: dict[str, tuple[float, float]] | None = None
    ) -> DomainStats:
        """The statistics of training clips (each with its crop), the threshold flagging :data:`FLAG_SHARE`
        of them.

        Raises:
            ValueError: fewer clips than twice the number of features, or a clip without its crop.
        """
        if len(summaries) < 2 * len(FEATURES):
            raise ValueError(f"{len(summaries)} clips are too few: at least {2 * len(FEATURES)} are needed")
        if any(s.crop is None for s in summaries):
            raise ValueError("every training clip needs its crop summary")
        crops = np.stack([s.crop for s in summaries])  # type: ignore[misc]
        crop_mean = crops.mean(axis=0)
        k = min(COMPONENTS, crops.shape[1])
        components = np.linalg.svd(crops - crop_mean, full_matrices=False)[2][:k]
        if k < COMPONENTS:  # a tiny input: pad with zero rows so every model has the same features
            components = np.vstack([components, np.zeros((COMPONENTS - k, crops.shape[1]))])
        feats = np.stack([features(s, crop_mean, components) for s in summaries])
        mean = feats.mean(axis=0)
        cov = np.cov(feats, rowvar=False)
        cov += np.eye(len(mean)) * (1e-6 * float(np.trace(cov)) / len(mean) + 1e-12)  # never singular
        confidence = dict(confidence or {})
        stats = cls(crop_mean, components, mean, cov, 0.0, confidence, len(summaries))
        scores = np.sort([stats.score(s) for s in summaries])
        threshold = float(scores[math.floor(FLAG_SHARE * len(scores))])
        return cls(crop_mean, components, mean, cov, threshold, confidence, len(summaries))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored as ``trained_on["domain"]`` in a model's metadata)."""

        def short(a: np.ndarray) -> Any:
            return np.vectorize(lambda v: float(f"{v:.6g}"), otypes=[float])(a).tolist()

        return {
            "version": VERSION,
            "features": list(FEATURES),
            "grid": list(GRID),
            "clips": self.clips,
            "crop_mean": short(self.crop_mean),
            "components": short(self.components),
            "mean": short(self.mean),
            "covariance": self.covariance.tolist(),
            "threshold": self.threshold,
            "confidence": {name: list(ab) for name, ab in self.confidence.items()},
            **({"grey": self.grey.to_json()} if self.grey is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> DomainStats | None:
        """The statistics stored by :meth:`to_json`; None when ``data`` is missing or of another version (the
        model then gets no score). Grey statistics that cannot be read are left out (grey clips are then judged
        against the colour ones)."""
        if not isinstance(data, dict) or data.get("version") != VERSION or data.get("features") != list(FEATURES):
            return None
        if data.get("grid") != list(GRID):
            return None
        try:
            conf = data.get("confidence") or {}
            stats = cls(
                np.asarray(data["crop_mean"], np.float64),
                np.asarray(data["components"], np.float64),
                np.asarray(data["mean"], np.float64),
                np.asarray(data["covariance"], np.float64),
                float(data["threshold"]),
                {str(name): (float(ab[0]), float(ab[1])) for name, ab in conf.items()},
                int(data.get("clips", 0)),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return None
        n = len(FEATURES)
        shapes_ok = stats.mean.shape == (n,) and stats.covariance.shape == (n, n)
        shapes_ok = shapes_ok and stats.components.shape == (COMPONENTS, stats.crop_mean.shape[0])
        if not shapes_ok:
            return None
        grey = cls.from_json(data.get("grey")) if "grey" in data else None
        return dataclasses.replace(stats, grey=grey) if grey is not None else stats

    @classmethod
    def of_model(cls, model: object) -> DomainStats | None:
        """The statistics a loaded model's metadata carries (its ``trained_on["domain"]``), or None."""
        trained_on = getattr(model, "trained_on", None)
        return cls.from_json(trained_on.get("domain")) if isinstance(trained_on, dict) else None


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def calibrate_confidence(raw: float, coefficients: tuple[float, float] | None) -> float:
    """A word's confidence after the calibration ``sigmoid(a * logit(raw) + b)``; ``raw`` when there is none."""
    if coefficients is None:
        return raw
    a, b = coefficients
    z = a * float(_logit(np.asarray(raw))) + b
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def fit_confidence(raw: Sequence[float], correct: Sequence[bool], iterations: int = 200) -> tuple[float, float]:
    """Fit ``(a, b)`` of :func:`calibrate_confidence` (logistic regression of correctness on the logit of the
    raw confidence, by Newton's method, with a weak pull towards ``(1, 0)``: no change)."""
    x = _logit(np.asarray(raw, np.float64))
    y = np.asarray(correct, np.float64)
    design = np.stack([x, np.ones_like(x)], axis=1)
    w = np.array([1.0, 0.0])
    prior = 1e-3 * len(x)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (p - y) + prior * (w - [1.0, 0.0])
        hess = (design * (p * (1 - p))[:, None]).T @ design + prior * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def word_hits(reference: Sequence[str], hypothesis: Sequence[str]) -> list[bool]:
    """For each hypothesis word, whether an optimal word alignment matches it to the same reference word."""
    from ..data.metrics import missed_words

    missed, _ = missed_words(list(hypothesis), list(reference))  # hypothesis as the "reference": one flag a word
    return [not m for m in missed]


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """The expected calibration error: over ``bins`` equal-width bins of confidence in [0, 1], the mean of
    ``|accuracy - mean confidence|`` weighted by the share of words in the bin. 0 when there are no words."""
    c = np.asarray(confidence, np.float64)
    y = np.asarray(correct, np.float64)
    if c.size == 0:
        return 0.0
    which = np.minimum((c * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() / c.size * abs(y[sel].mean() - c[sel].mean())
    return float(total)
