"""CTC decoding speed and agreement: lipread's greedy and beam search against Keras, TensorFlow and pyctcdecode.

Inputs: random log-probabilities ``float32 (B, T=75, V)``, V = 28 (the ``lipnet`` vocabulary) and 41 (the seed
notebook's), B = 1 and 32, beam widths 10 and 100. Logits are ``3 * N(0, 1)``, log-softmaxed (a trained
model's outputs are peakier still). Decoders:

- lipread: :func:`lipread.decoding.greedy.greedy_decode` / :func:`~lipread.decoding.beam.beam_search` for B = 1,
  the ``*_batch`` functions for B = 32; the beam search both in NumPy (the core) and, where numba is installed, compiled
  (the ``lipread[fast]`` extra, :mod:`lipread.decoding.beam_numba`);
- ``keras.ops.ctc_decode`` (TensorFlow backend), ``strategy="greedy"`` and ``"beam_search"`` (blank 0);
- ``tf.nn.ctc_beam_search_decoder``, whose blank is the *last* class: its inputs are the same arrays with the
  classes rotated (blank moved to the end), and its labels are rotated back to compare;
- ``pyctcdecode`` (no language model, its default pruning), which pins ``numpy < 2`` and so runs in its own
  environment, ``benchmarks/.venv-pyctcdecode`` (made by ``--setup-pyctcdecode``), through
  ``pyctcdecode_worker.py``.

Agreement: lipread's best hypothesis against TensorFlow's on random inputs at each beam width, for flat
(``N(0, 1)`` logits) and peaky (``3 * N(0, 1)``) inputs; and exactness on tiny inputs (T <= 5, V <= 4), where
every alignment can be enumerated: the best labelling and its probability (summed over its alignments) by brute
force, against lipread's beam search (beam wide enough to be exact) and TensorFlow's.

Agreement is measured for the plain prefix search (lipread's default) and for ``like_tensorflow=True``, which
drops the prefixes TensorFlow's search drops (see :func:`lipread.decoding.beam.beam_search`).

Targets: beam width 100 at <= 3 ms per clip (reported for the NumPy and the compiled search); the same best
hypothesis as TensorFlow's on >= 99% of random inputs; exact on tiny ones.

Usage::

    python benchmarks/ctc_decode.py [--rounds 5] [--agreement 200] [--setup-pyctcdecode] [--json] [--profile]
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import functools
import itertools
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import Report, median, ms, ratio

T = 75
VOCABS = (28, 41)
BATCHES = (1, 32)
BEAMS = (10, 100)
BEAM_TARGET_MS = 3.0
KERAS_REFERENCE_MS = 27.0
"""What the issue's targets quote for Keras's beam search (width 100) on its machine: 3 ms is that over 9."""
AGREEMENT_TARGET = 0.99

VENV = Path(__file__).resolve().parent / ".venv-pyctcdecode"
"""pyctcdecode's own environment (it pins numpy < 2)."""
WORKER = Path(__file__).resolve().parent / "pyctcdecode_worker.py"
PYCTCDECODE_REQUIREMENTS = ("pyctcdecode==0.5.0", "numpy<2")


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, in float64, returned as float32."""
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)


def random_logprobs(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """``float32`` log-probabilities of ``scale * N(0, 1)`` logits."""
    return log_softmax(scale * rng.standard_normal(shape))


def to_tf(lp: np.ndarray) -> np.ndarray:
    """``(B, T, V)`` with blank 0 -> TensorFlow's ``(T, B, V)`` with blank ``V - 1`` (classes rotated)."""
    return np.ascontiguousarray(np.roll(lp, -1, axis=-1).transpose(1, 0, 2))


def tf_best(lp: np.ndarray, beam: int) -> list[tuple[int, ...]]:
    """TensorFlow's best labelling per clip, in lipread's ids (blank 0)."""
    import tensorflow as tf

    lens = np.full(lp.shape[0], lp.shape[1], np.int32)
    decoded, _ = tf.nn.ctc_beam_search_decoder(to_tf(lp), lens, beam_width=beam, top_paths=1)
    dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
    out = [tuple(int(x) + 1 for x in row if x >= 0) for row in dense]
    return out + [()] * (lp.shape[0] - len(out))


# --------------------------------------------------------------------------------------------------
# pyctcdecode, in its own environment
# --------------------------------------------------------------------------------------------------


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup_pyctcdecode() -> None:
    """Create ``benchmarks/.venv-pyctcdecode`` with pyctcdecode and numpy < 2 (idempotent)."""
    if not venv_python().is_file():
        common.log(f"creating {VENV} ...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    common.log(f"installing {' '.join(PYCTCDECODE_REQUIREMENTS)} into {VENV} ...")
    subprocess.run(
        [str(venv_python()), "-m", "pip", "install", "-q", *PYCTCDECODE_REQUIREMENTS], check=True, stdout=sys.stderr
    )


def time_pyctcdecode(inputs: dict[int, np.ndarray], rounds: int, clock: str) -> dict[str, Any] | str:
    """pyctcdecode's seconds per clip by V, B and beam width, or why it was not measured."""
    if not venv_python().is_file():
        return f"not measured: no {VENV.name} (run `python benchmarks/ctc_decode.py --setup-pyctcdecode`)"
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "inputs.npz"
        np.savez(npz, **{f"v{v}": lp for v, lp in inputs.items()})
        cmd = [str(venv_python()), str(WORKER), str(npz), "--rounds", str(rounds)]
        cmd += ["--batches", *map(str, BATCHES), "--beams", *map(str, BEAMS), *(["--wall"] if clock == "wall" else [])]
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return f"not measured: pyctcdecode failed: {done.stderr.strip().splitlines()[-1:]}"
    return json.loads(done.stdout)


# --------------------------------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------------------------------


Disagreement = tuple[np.ndarray, int, tuple[int, ...], tuple[int, ...]]
"""A clip where lipread and TensorFlow differ: ``(T, V)`` log-probabilities, beam width, lipread's best
labelling, TensorFlow's."""


def agreement(n: int, beams: tuple[int, ...], seed: int) -> tuple[list[dict[str, Any]], list[Disagreement]]:
    """lipread's best hypothesis vs TensorFlow's on ``n`` random clips per (distribution, V, beam width), for the
    plain prefix search (``same``) and ``like_tensorflow=True`` (``same like_tensorflow``).

    Returns the table rows and the clips where the plain search and TensorFlow differ.
    """
    from lipread.decoding import beam_search_batch

    rows = []
    differ: list[Disagreement] = []
    rng = np.random.default_rng(seed)
    for name, scale in (("flat", 1.0), ("peaky", 3.0)):
        for v in VOCABS:
            lp = random_logprobs(rng, (n, T, v), scale)
            for w in beams:
                ours = [h[0].tokens for h in beam_search_batch(lp, None, beam_width=w)]
                theirs = tf_best(lp, w)
                like = [h[0].tokens for h in beam_search_batch(lp, None, beam_width=w, like_tensorflow=True)]
                same = sum(a == b for a, b in zip(ours, theirs))
                same_like = sum(a == b for a, b in zip(like, theirs))
                differ += [(lp[i], w, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
                rows.append(
                    {"inputs": name, "V": v, "beam": w, "n": n, "same": same, "same like_tensorflow": same_like}
                )
    return rows, differ


def tf_log_prob(lp: np.ndarray, labellings: list[tuple[int, ...]]) -> np.ndarray:
    """``log p(labelling | lp)`` of each labelling (lipread's ids, blank 0) under ``(T, V)`` log-probabilities,
    summed over all alignments by ``tf.nn.ctc_loss``: ``float64 (len(labellings),)``."""
    import tensorflow as tf

    n = len(labellings)
    width = max(1, *(len(lab) for lab in labellings))
    dense = np.zeros((n, width), np.int32)
    for i, lab in enumerate(labellings):
        dense[i, : len(lab)] = lab
    loss = tf.nn.ctc_loss(
        labels=dense,
        logits=np.repeat(lp[None].astype(np.float32), n, axis=0),
        label_length=np.array([len(lab) for lab in labellings], np.int32),
        logit_length=np.full(n, lp.shape[0], np.int32),
        logits_time_major=False,
        blank_index=0,
    )
    return -loss.numpy().astype(np.float64)


def more_probable(differ: list[Disagreement], tol: float = 1e-4) -> dict[str, int]:
    """On each clip where lipread and TensorFlow differ, whose best labelling is the more probable one
    (exact probabilities from :func:`tf_log_prob`; within ``tol`` nats counts as a tie)."""
    counts = {"n": len(differ), "lipread": 0, "tensorflow": 0, "tie": 0, "lipread longer": 0, "tensorflow longer": 0}
    for lp, _, ours, theirs in differ:
        mine, tfs = tf_log_prob(lp, [ours, theirs])
        counts["lipread" if mine > tfs + tol else "tensorflow" if tfs > mine + tol else "tie"] += 1
        if len(ours) != len(theirs):
            counts["lipread longer" if len(ours) > len(theirs) else "tensorflow longer"] += 1
    return counts


def brute_force_best(lp: np.ndarray) -> tuple[tuple[int, ...], float]:
    """The most probable labelling of ``(T, V)`` log-probabilities (blank 0) and its log-probability, by
    summing over every one of the ``V ** T`` alignments."""
    totals: dict[tuple[int, ...], float] = {}
    t_len, v = lp.shape
    for path in itertools.product(range(v), repeat=t_len):
        score = float(sum(lp[t, k] for t, k in enumerate(path)))
        label = tuple(k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k))
        totals[label] = float(np.logaddexp(totals.get(label, -np.inf), score))
    best = max(totals, key=lambda k: totals[k])
    return best, totals[best]


def exactness(n: int, seed: int) -> dict[str, int]:
    """On ``n`` tiny random inputs: how often lipread's and TensorFlow's best equal the brute-force one."""
    from lipread.decoding import beam_search

    rng = np.random.default_rng(seed)
    counts = {
        "n": n,
        "lipread labelling": 0,
        "lipread score": 0,
        "like_tensorflow labelling": 0,
        "tensorflow labelling": 0,
    }
    for i in range(n):
        t_len, v = 1 + i % 5, 2 + (i // 5) % 3
        lp = random_logprobs(rng, (t_len, v), 1.5)
        best, score = brute_force_best(lp.astype(np.float64))
        hyp = beam_search(lp, beam_width=v**t_len)[0]
        counts["lipread labelling"] += hyp.tokens == best
        counts["lipread score"] += abs(hyp.score - score) <= 1e-5
        counts["like_tensorflow labelling"] += beam_search(lp, v**t_len, like_tensorflow=True)[0].tokens == best
        counts["tensorflow labelling"] += tf_best(lp[None], v**t_len)[0] == best
    return counts


# --------------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------------


def in_numpy(decode: Callable[[], Any]) -> Callable[[], Any]:
    """``decode`` with lipread's compiled beam search (the fast extra) turned off: the core's NumPy search."""
    from lipread.decoding import beam as ctc

    def call() -> Any:
        saved = ctc._KERNEL[:]
        ctc._KERNEL[:] = [None]
        try:
            return decode()
        finally:
            ctc._KERNEL[:] = saved

    return call


def compiled_available() -> bool:
    """Whether lipread's beam search runs compiled here (numba installed, ``LIPREAD_NUMBA`` not 0)."""
    from lipread.decoding import beam as ctc

    return ctc._compiled_beam() is not None


def speed_cases(lp: np.ndarray) -> dict[str, Callable[[], Any]]:
    """Decoder name -> a call decoding the whole batch ``lp (B, T, V)``. ``lipread beam W`` is the NumPy search,
    ``lipread beam W, compiled`` the fast extra's."""
    import keras
    import tensorflow as tf

    from lipread.decoding import beam_search, beam_search_batch, greedy_decode, greedy_decode_batch

    b = lp.shape[0]
    lens = np.full(b, lp.shape[1], np.int32)
    lp_tf = tf.constant(to_tf(lp))
    lp_k = tf.constant(lp)
    lens_tf = tf.constant(lens)
    cases: dict[str, Callable[[], Any]] = {}
    if b == 1:
        cases["lipread greedy"] = lambda: greedy_decode(lp[0])
    else:
        cases["lipread greedy"] = lambda: greedy_decode_batch(lp, lens)
    cases["keras.ops.ctc_decode greedy"] = lambda: keras.ops.ctc_decode(lp_k, lens_tf, strategy="greedy")
    for w in BEAMS:
        if b == 1:
            beam = functools.partial(beam_search, lp[0], beam_width=w)
        else:
            beam = functools.partial(beam_search_batch, lp, lens, beam_width=w)
        cases[f"lipread beam {w}"] = in_numpy(beam)
        if compiled_available():
            cases[f"lipread beam {w}, compiled"] = beam
        if w == max(BEAMS):
            if b == 1:
                cases[f"lipread beam {w}, like_tensorflow"] = lambda w=w: beam_search(lp[0], w, like_tensorflow=True)
            else:
                cases[f"lipread beam {w}, like_tensorflow"] = lambda w=w: beam_search_batch(
                    lp, lens, w, like_tensorflow=True
                )
        cases[f"keras.ops.ctc_decode beam {w}"] = lambda w=w: keras.ops.ctc_decode(
            lp_k, lens_tf, strategy="beam_search", beam_width=w
        )
        cases[f"tf.nn.ctc_beam_search_decoder beam {w}"] = lambda w=w: tf.nn.ctc_beam_search_decoder(
            lp_tf, lens_tf, beam_width=w
        )
    return cases


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], rounds=5)
    p.add_argument("--agreement", type=int, default=200, help="random clips per agreement case (default 200)")
    p.add_argument("--tiny", type=int, default=150, help="tiny inputs for the exactness check (default 150)")
    p.add_argument(
        "--setup-pyctcdecode", action="store_true", help=f"create {VENV.name} with pyctcdecode first (needs PyPI)"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.setup_pyctcdecode:
        setup_pyctcdecode()
    report = Report("ctc_decode", f"CTC decoding (T = {T})")
    report.machine = common.machine()
    report.settings = {"rounds": args.rounds, "agreement clips": args.agreement, "tiny inputs": args.tiny}
    common.log("importing TensorFlow ...")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rng = np.random.default_rng(args.seed)
    inputs = {v: random_logprobs(rng, (max(BATCHES), T, v), 3.0) for v in VOCABS}

    common.log("pyctcdecode ...")
    pyctc = time_pyctcdecode(inputs, args.rounds, args.clock)
    times: dict[tuple[int, int], dict[str, float]] = {}
    for v in VOCABS:
        for b in BATCHES:
            common.log(f"timing V={v} B={b} ...")
            report.settings["clock"] = f"{args.clock} time, medians"
            samples = common.interleaved(speed_cases(inputs[v][:b]), args.rounds, sample_seconds=0.05, clock=args.clock)
            times[v, b] = {name: median(s) / b for name, s in samples.items()}
            if isinstance(pyctc, dict):
                for w in BEAMS:
                    times[v, b][f"pyctcdecode beam {w}"] = median(pyctc[str(v)][str(b)][str(w)])

    names = list(times[VOCABS[0], BATCHES[0]])
    cols = [f"V={v} B={b}" for v in VOCABS for b in BATCHES]
    table = report.table("Milliseconds per clip (median)", ["decoder", *cols])
    for name in names:
        table.rows.append(
            [name, *(ms(times[v, b][name]) if name in times[v, b] else "-" for v in VOCABS for b in BATCHES)]
        )
    speedup = report.table(
        "lipread's speed-up (baseline ms / lipread ms; lipread's NumPy search)", ["lipread vs", *cols]
    )
    for name in names:
        if name.startswith("lipread"):
            continue
        ours = "lipread greedy" if "greedy" in name else f"lipread beam {name.rsplit(' ', 1)[1]}"
        speedup.rows.append([name, *(ratio(times[v, b][name] / times[v, b][ours]) for v in VOCABS for b in BATCHES)])
    if isinstance(pyctc, str):
        report.notes.append(f"pyctcdecode: {pyctc}")

    compiled = "lipread beam 100, compiled"
    if compiled in times[VOCABS[0], BATCHES[0]]:
        report.target(
            "lipread beam search, width 100, per clip, compiled (the lipread[fast] extra)",
            f"<= {BEAM_TARGET_MS:g} ms",
            ", ".join(f"{ms(times[v, b][compiled])} ms (V={v} B={b})" for v in VOCABS for b in BATCHES),
            max(times[v, b][compiled] for v in VOCABS for b in BATCHES) * 1e3 <= BEAM_TARGET_MS,
        )
        report.notes.append(
            "The compiled beam search (numba, lipread.decoding.beam_numba) is "
            + ", ".join(
                f"{ratio(times[v, b]['lipread beam 100'] / times[v, b][compiled])} (V={v} B={b})"
                for v in VOCABS
                for b in BATCHES
            )
            + " faster than the NumPy one at width 100, with the same results (the tests compare them; building "
            "the 100 Hypothesis objects in Python is a good part of what is left). Loading it costs about 0.4 s "
            "once per process (see cold_start)."
        )
    else:
        report.notes.append("numba is not installed: the compiled beam search (lipread[fast]) is not measured.")
    worst = max((times[v, b]["lipread beam 100"], v, b) for v in VOCABS for b in BATCHES)
    beam_ok = worst[0] * 1e3 <= BEAM_TARGET_MS
    report.target(
        "the same, NumPy (the core, without the extra)",
        f"<= {BEAM_TARGET_MS:g} ms",
        ", ".join(f"{ms(times[v, b]['lipread beam 100'])} ms (V={v} B={b})" for v in VOCABS for b in BATCHES),
        beam_ok,
    )
    # The same target as a ratio to a baseline measured in this run, for a machine faster or slower than
    # the one the 3 ms were set on.
    keras = "keras.ops.ctc_decode beam 100"
    speedups = {(v, b): times[v, b][keras] / times[v, b]["lipread beam 100"] for v in VOCABS for b in BATCHES}
    needed = KERAS_REFERENCE_MS / BEAM_TARGET_MS
    report.target(
        f"lipread beam search (NumPy), width 100, vs {keras} in the same run (the {BEAM_TARGET_MS:g} ms target set "
        f"against Keras's {KERAS_REFERENCE_MS:g} ms)",
        f">= {ratio(needed)} faster",
        ", ".join(f"{ratio(r)} (V={v} B={b})" for (v, b), r in speedups.items()),
        min(speedups.values()) >= needed,
    )

    common.log(f"agreement with TensorFlow on {args.agreement} clips per case ...")
    agree, differ = agreement(args.agreement, BEAMS, args.seed + 1)
    atable = report.table(
        "Same best hypothesis as tf.nn.ctc_beam_search_decoder",
        ["inputs", "V", "beam", "clips", "plain search (default)", "like_tensorflow=True"],
    )
    for row in agree:
        n = row["n"]
        atable.rows.append(
            [
                row["inputs"],
                str(row["V"]),
                str(row["beam"]),
                str(n),
                f"{row['same']} ({row['same'] / n:.1%})",
                f"{row['same like_tensorflow']} ({row['same like_tensorflow'] / n:.1%})",
            ]
        )
    clips = sum(r["n"] for r in agree)

    def share(key: str) -> tuple[float, float]:
        return sum(r[key] for r in agree) / clips, min(r[key] / r["n"] for r in agree)

    total_like, lowest_like = share("same like_tensorflow")
    total, lowest = share("same")
    common.log(f"scoring the {len(differ)} disagreements with tf.nn.ctc_loss ...")
    better = more_probable(differ)
    report.data["more probable"] = better
    report.target(
        "same best hypothesis as TensorFlow's decoder (random inputs), beam_search(..., like_tensorflow=True)",
        f">= {AGREEMENT_TARGET:.0%}",
        f"{total_like:.1%} overall, lowest case {lowest_like:.1%}",
        lowest_like >= AGREEMENT_TARGET,
    )
    report.target(
        "the same, plain prefix search (lipread's default)",
        f">= {AGREEMENT_TARGET:.0%}",
        f"{total:.1%} overall, lowest case {lowest:.1%}; where they differ, the more probable labelling is "
        f"lipread's on {better['lipread']} of {better['n']}, TensorFlow's on {better['tensorflow']}",
        lowest >= AGREEMENT_TARGET,
    )
    report.notes.append(
        "Why the plain search and TensorFlow's differ: TensorFlow builds each frame's beam in one pass over the "
        "previous beam, best prefix first, in a bounded heap; when it reaches an extension that was a prefix of "
        "the previous beam and has been pushed out of the heap meanwhile, it deactivates it together with its "
        "previous-frame probability (`c.oldp.Reset()`), so that prefix's own extensions are never tried. The "
        "plain prefix search extends every prefix of the previous beam. like_tensorflow=True drops the same "
        "prefixes, vectorised (lipread.decoding.like_tensorflow._drop_like_tensorflow); the tests check it against a "
        "candidate-at-a-time rewrite of TensorFlow's search (tests/ctc_reference.py) and against "
        "tf.nn.ctc_beam_search_decoder."
    )
    if differ:
        report.notes.append(
            f"Where the plain search's and TensorFlow's best labellings differ ({better['n']} clips), each is scored "
            "exactly (log-probability summed over all its alignments, by tf.nn.ctc_loss): lipread's is the more "
            f"probable on {better['lipread']}, TensorFlow's on {better['tensorflow']}, equal within 1e-4 nats on "
            f"{better['tie']}. lipread's labelling is the longer one on {better['lipread longer']} of them, "
            f"TensorFlow's on {better['tensorflow longer']}. On flat inputs a shorter labelling has more alignments "
            "than a beam search's score counts, and TensorFlow's search, which tries fewer extensions, ends on the "
            "shorter one more often."
        )
    common.log(f"exactness on {args.tiny} tiny inputs ...")
    exact = exactness(args.tiny, args.seed + 2)
    n = exact["n"]
    report.target(
        "exact on tiny inputs (T <= 5, V <= 4; brute force over all alignments)",
        "all",
        f"labelling {exact['lipread labelling']}/{n}, probability (1e-5) {exact['lipread score']}/{n}; "
        f"like_tensorflow labelling {exact['like_tensorflow labelling']}/{n}; "
        f"TensorFlow's labelling {exact['tensorflow labelling']}/{n}",
        exact["lipread labelling"] == n and exact["lipread score"] == n and exact["like_tensorflow labelling"] == n,
    )
    report.notes.append(
        "Keras and TensorFlow decode a whole batch in one call (times are per clip); lipread decodes B = 1 with "
        "beam_search and B = 32 with beam_search_batch (all clips in lockstep); pyctcdecode decodes clip by clip "
        "(its B = 32 time per clip is measured on 8 of the 32 clips, in its own process)."
    )
    report.notes.append("Every decoder runs on one thread (TensorFlow's intra- and inter-op pools set to 1).")
    if not beam_ok:
        report.notes.append(
            "Where the beam-100 time goes (profile below): nearly all of it in the search function's own lines "
            "(lipread.decoding.beam._beam, or lipread.decoding.beam_batch._beam_lockstep for a batch), i.e. "
            "about 60 NumPy calls per frame on (100 x V) candidate arrays and 100-entry beams, each 0.2-5 us, "
            "with no single hotspot; building the 100 Hypothesis objects at the end is about 10%. The time "
            "grows with V (the candidate matrix is 100 x V). Going well below this needs the compiled search."
        )
    report.data |= {
        "ms_per_clip": {f"V={v} B={b}": {k: x * 1e3 for k, x in times[v, b].items()} for v in VOCABS for b in BATCHES},
        "agreement": agree,
        "exactness": exact,
    }
    if args.profile or not beam_ok:
        from lipread.decoding import beam_search, beam_search_batch

        lp = inputs[worst[1]]
        if worst[2] == 1:
            report.profiles["beam_search, width 100 (cProfile, by internal time)"] = common.profile_summary(
                in_numpy(lambda: beam_search(lp[0], 100)), 20
            )
        else:
            report.profiles["beam_search_batch, width 100, B=32 (cProfile, by internal time)"] = common.profile_summary(
                in_numpy(lambda: beam_search_batch(lp, None, 100)), 3
            )
    report.emit(args.json)


if __name__ == "__main__":
    main()
