"""CPU inference of the ``lipnet`` preset: PyTorch, TensorFlow (``model.predict`` and a compiled call) and ONNX
Runtime (float32 and int8), at batch 1 and 8, against this machine's float32 matrix-multiply peak.

The weights are the shipped ``lipnet-grid-s1`` checkpoint when this checkout has it (or ``--model``), else a
random initialisation (speed does not depend on the weights). Every backend loads the same checkpoint:

- ``torch``: :class:`lipread_torch.wrapper.TorchModel` ``logprobs`` (``torch.inference_mode``);
- ``tensorflow predict``: the Keras model's ``model.predict`` (as the LipNet notebook runs it);
- ``tensorflow compiled``: the ``lipread_tf`` model's traced ``tf.function`` (``inference_function()``);
- ``onnxruntime fp32``: ``lipread export --backend torch``, run by lipread's ONNX backend; and, for comparison,
  the same export with its 3D convolutions left as they are (lipread's exports compute them as per-frame 2D
  convolutions, :mod:`lipread.onnx.convolutions`);
- ``onnxruntime int8``: ``lipread export --backend torch --quantize int8 --calibration CLIPS`` (static: int8
  convolutions and matrix multiplications, calibrated on training clips), and, for comparison,
  ``--quantize int8`` without calibration clips (dynamic quantisation of the matrix multiplications only).

Inputs are real GRID clips preprocessed for the preset (75 frames of 50x100 RGB). Every framework gets the
same number of threads (``--threads``, default 1). FLOPs are counted from the configuration (convolutions,
recurrent layers and the classifier; multiply-add = 2 FLOPs) and compared with the measured peak of a large
float32 matrix multiply (PyTorch, same threads), timed in the same run.

Targets: ONNX Runtime fp32 >= 1.5x faster than Keras ``model.predict``; int8 >= 2x faster than fp32, with a
validation CER at most 0.5 point worse (measured only with a trained model: the shipped one or ``--model``).

Usage::

    python benchmarks/inference.py [--rounds 3] [--threads 1] [--model CKPT] [--json] [--profile]
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import GRID, ROOT, Report, median, ms, ratio

SHIPPED = ROOT / "lipread" / "models" / "lipnet-grid-s1.safetensors"
BATCHES = (1, 8)
ORT_TARGET = 1.5
INT8_TARGET = 2.0
CER_TARGET = 0.005
CALIBRATION = 16


def model_flops(config: Any, frames: int) -> dict[str, float]:
    """FLOPs of one clip of ``frames`` frames by part (``conv``, ``rnn``, ``classifier``); multiply-add = 2."""
    h, w, c = config.height, config.width, config.channels
    t = frames
    conv = 0.0
    for block in config.frontend:
        (kt, kh, kw), (st, sh, sw), (pt, ph, pw) = block.kernel, block.stride, block.padding
        t = (t + 2 * pt - kt) // st + 1
        h = (h + 2 * ph - kh) // sh + 1
        w = (w + 2 * pw - kw) // sw + 1
        conv += 2.0 * block.channels * c * kt * kh * kw * t * h * w
        c = block.channels
        h, w = h // block.pool[1], w // block.pool[2]
    features = c * h * w
    assert features == config.feature_size, (features, config.feature_size)
    gates = 3 if config.rnn == "gru" else 4
    rnn = 0.0
    size = features
    for _ in range(config.rnn_layers):
        rnn += 2 * t * 2.0 * gates * config.rnn_hidden * (size + config.rnn_hidden)  # two directions
        size = 2 * config.rnn_hidden
    classifier = 2.0 * t * size * config.num_classes
    return {"conv": conv, "rnn": rnn, "classifier": classifier, "total": conv + rnn + classifier}


def sgemm_peak(threads: int, n: int = 2048, repeats: int = 5) -> tuple[float, str]:
    """This machine's float32 matrix-multiply peak on ``threads`` threads: the best GFLOP/s of ``repeats``
    ``n x n`` products, with NumPy's BLAS and with PyTorch (whichever is faster), and which one it was."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    best: dict[str, float] = {}
    for name, fn in (("numpy", lambda: a @ b), ("torch", lambda: ta @ tb)):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best[name] = 2.0 * n**3 / min(times) / 1e9
    name = max(best, key=lambda k: best[k])
    return best[name], name


def clips_and_split() -> tuple[list[Any], list[Any]]:
    """GRID speaker 1's (training, validation) clips, split as the shipped model's training run does."""
    from lipread.data.dataset import find_clips, split_clips

    return split_clips(find_clips(GRID, warn=False), "random", 0.1, 0)


def speedup_target(
    report: Report, name: str, times: dict[int, dict[str, float]], slow: str, fast: str, goal: float
) -> bool:
    """Report how many times faster ``fast`` ran than ``slow`` at every batch size (``times``: seconds per
    clip by batch size and backend); True when every ratio reaches ``goal``."""
    speedup = {b: times[b][slow] / times[b][fast] for b in BATCHES}
    met = all(v >= goal for v in speedup.values())
    report.target(name, f">= {goal}x faster", ", ".join(f"{ratio(speedup[b])} (batch {b})" for b in BATCHES), met)
    return met


def export_models(ckpt: Path, folder: Path, calibration: list[Path]) -> dict[str, Path]:
    """``lipread export`` the checkpoint: float32, float32 with 3D convolutions, int8 (calibrated) and int8
    (dynamic)."""
    from unittest import mock

    from lipread.cli import main

    calib = folder / "calibration"
    calib.mkdir()
    for clip in calibration:
        (calib / clip.name).symlink_to(clip)
    runs = {
        "fp32": [],
        "fp32 3d": [],
        "int8": ["--quantize", "int8", "--calibration", str(calib)],
        "int8 dynamic": ["--quantize", "int8"],
    }
    out = {name: folder / f"{name.replace(' ', '-')}.onnx" for name in runs}
    for name, extra in runs.items():
        common.log(f"lipread export {name} ...")
        keep_3d = mock.patch("lipread_torch.export.framewise_convolutions", lambda proto: 0)
        with contextlib.redirect_stdout(sys.stderr), keep_3d if name == "fp32 3d" else contextlib.nullcontext():
            # (it prints the path written; stdout carries the report)
            status = main(["export", "--backend", "torch", str(ckpt), "-o", str(out[name]), *extra])
        if status != 0:
            raise SystemExit(f"lipread export failed for {name}")
    return out


def validation_cer(models: dict[str, Any], clips: list[Any], config: Any) -> dict[str, float]:
    """Greedy CER of each model on ``clips``."""
    from lipread.data.metrics import edit_distance
    from lipread.decoding import greedy_decode
    from lipread.video.preprocess import load_clip

    errors = dict.fromkeys(models, 0)
    chars = 0
    for clip in clips:
        x = load_clip(clip.video, config)[None]
        chars += len(clip.text)
        for name, model in models.items():
            hyp = greedy_decode(model.logprobs(x)[0], config.vocabulary).text
            errors[name] += edit_distance(clip.text, hyp)
    return {name: e / max(chars, 1) for name, e in errors.items()}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], rounds=3)
    p.add_argument("--threads", type=int, default=1, help="threads for every framework (default 1)")
    p.add_argument("--model", type=Path, help="a lipnet checkpoint (default: the shipped one, if present)")
    args = p.parse_args()
    common.need_data()
    common.set_threads(args.threads)
    report = Report("inference", "CPU inference, lipnet preset")
    report.machine = common.machine()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from lipread.backend import get_backend
    from lipread.config import get_preset
    from lipread.video.preprocess import load_clip

    config = get_preset("lipnet")
    train_clips, val_clips = clips_and_split()
    trained = args.model or (SHIPPED if SHIPPED.is_file() else None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if trained is not None:
            ckpt = trained
            weights = f"trained checkpoint {trained.name}"
        else:
            torch_backend = get_backend("torch")
            ckpt = torch_backend.save(torch_backend.build(config, seed=0), folder / "random.safetensors")
            weights = "random initialisation (no trained model in this checkout)"
        onnx_files = export_models(ckpt, folder, [c.video for c in train_clips[:CALIBRATION]])
        common.log("loading the models ...")
        torch_model = get_backend("torch").load(ckpt)
        tf_model = get_backend("tensorflow").load(ckpt)
        ort = {
            name: get_backend("onnx").load(path, threads=args.threads, device="cpu")
            for name, path in onnx_files.items()
        }  # type: ignore[call-arg]
        common.log("preprocessing 8 clips ...")
        batch = np.stack([load_clip(c.video, config) for c in val_clips[:8]])
        report.settings = {
            "threads": args.threads,
            "rounds": args.rounds,
            "weights": weights,
            "input": f"{batch.shape[1]} frames of {config.height}x{config.width}x{config.channels}",
        }

        infer = tf_model.inference_function()
        times: dict[int, dict[str, float]] = {}
        for b in BATCHES:
            x = np.ascontiguousarray(batch[:b])
            lens = np.full(b, x.shape[1], np.int32)
            x_tf, lens_tf = tf.constant(x), tf.constant(lens)
            cases: dict[str, Callable[[], Any]] = {
                "torch": lambda x=x, lens=lens: torch_model.logprobs(x, lens),
                "tensorflow model.predict": lambda x=x, lens=lens, b=b: tf_model.keras_model.predict(
                    [x, lens], batch_size=b, verbose=0
                ),
                "tensorflow compiled (tf.function)": lambda x_tf=x_tf, lens_tf=lens_tf, infer=infer: infer(
                    x_tf, lens_tf
                ).numpy(),
                "onnxruntime fp32": lambda x=x, lens=lens: ort["fp32"].logprobs(x, lens),
                "onnxruntime fp32, 3D convolutions": lambda x=x, lens=lens: ort["fp32 3d"].logprobs(x, lens),
                "onnxruntime int8": lambda x=x, lens=lens: ort["int8"].logprobs(x, lens),
                "onnxruntime int8 dynamic (matmul only)": lambda x=x, lens=lens: ort["int8 dynamic"].logprobs(x, lens),
            }
            common.log(f"timing batch {b}: {len(cases)} cases x {args.rounds} rounds ...")
            report.settings["clock"] = f"{args.clock} time, medians"
            samples = common.interleaved(cases, args.rounds, warmup=1, clock=args.clock)
            times[b] = {name: median(s) / b for name, s in samples.items()}
        common.log("measuring the float32 matrix-multiply peak ...")
        peak, peak_by = sgemm_peak(args.threads)

        flops = model_flops(config, batch.shape[1])
        report.settings["model FLOPs per clip"] = (
            f"{flops['total'] / 1e9:.2f} G (convolutions {flops['conv'] / 1e9:.2f}, recurrent "
            f"{flops['rnn'] / 1e9:.2f}, classifier {flops['classifier'] / 1e9:.3f})"
        )
        report.settings["float32 matmul peak"] = (
            f"{peak:.0f} GFLOP/s (best 2048x2048 sgemm of NumPy and PyTorch: {peak_by}; {args.threads} thread(s), "
            "wall time)"
        )
        table = report.table(
            "Milliseconds per clip (median) and achieved GFLOP/s",
            [
                "backend",
                *(f"batch {b}: ms/clip" for b in BATCHES),
                *(f"batch {b}: GFLOP/s (% of peak)" for b in BATCHES),
            ],
        )
        for name in times[BATCHES[0]]:
            cells = [ms(times[b][name]) for b in BATCHES]
            for b in BATCHES:
                g = flops["total"] / times[b][name] / 1e9
                cells.append(f"{g:.0f} ({g / peak:.0%})")
            table.rows.append([name, *cells])

        speedup_target(
            report,
            "onnxruntime fp32 vs Keras model.predict",
            times,
            "tensorflow model.predict",
            "onnxruntime fp32",
            ORT_TARGET,
        )
        int8_met = speedup_target(
            report, "onnxruntime int8 (calibrated) vs fp32", times, "onnxruntime fp32", "onnxruntime int8", INT8_TARGET
        )
        if trained is None:
            report.target("int8 validation CER vs fp32", "<= +0.5 point", "not measured: no trained model", None)
        else:
            common.log(f"validation CER on {len(val_clips)} clips ...")
            cer = validation_cer({"fp32": ort["fp32"], "int8": ort["int8"]}, val_clips, config)
            delta = (cer["int8"] - cer["fp32"]) * 100
            report.target(
                "int8 validation CER vs fp32",
                "<= +0.5 point",
                f"{cer['int8']:.2%} vs {cer['fp32']:.2%} ({delta:+.2f} points, greedy, {len(val_clips)} clips)",
                delta <= CER_TARGET * 100,
            )
        share = {
            name: {b: flops["total"] / times[b][name] / 1e9 / peak for b in BATCHES}
            for name in ("onnxruntime fp32", "onnxruntime fp32, 3D convolutions", "tensorflow model.predict")
        }
        framewise = {b: times[b]["onnxruntime fp32, 3D convolutions"] / times[b]["onnxruntime fp32"] for b in BATCHES}
        report.notes.append(
            f"The network is {flops['conv'] / flops['total']:.0%} convolutions by FLOPs and compute-bound. lipread's "
            "exports compute each 3D convolution as a 2D convolution per frame over the frames it spans, stacked "
            "as channels (lipread.onnx.convolutions): ONNX Runtime runs 2D convolutions in its blocked-layout (NCHWc) "
            "kernels, which it has no 3D counterpart of. That makes ONNX Runtime fp32 "
            + ", ".join(f"{ratio(framewise[b])} (batch {b})" for b in BATCHES)
            + " faster than the same export with 3D convolutions, at "
            + ", ".join(f"{share['onnxruntime fp32'][b]:.0%}" for b in BATCHES)
            + " of the measured float32 matmul peak (3D: "
            + ", ".join(f"{share['onnxruntime fp32, 3D convolutions'][b]:.0%}" for b in BATCHES)
            + "); Keras model.predict reaches "
            + ", ".join(f"{share['tensorflow model.predict'][b]:.0%}" for b in BATCHES)
            + " (TensorFlow's oneDNN 3D convolutions), and its own overhead shows only at batch 1."
        )
        report.notes.append(
            "int8 (calibrated) = `lipread export --quantize int8 --calibration CLIPS` with "
            f"{CALIBRATION} training clips: static QDQ quantisation, int8 convolutions (all three: per frame the "
            "first one sees 3 frames x 3 colours = 9 channels) and matrix multiplications; the GRUs stay float32 "
            "(ONNX Runtime has no int8 GRU). Dynamic quantisation of the convolutions (ConvInteger, in the "
            "profile below) is several times slower than float32, which is why lipread never writes it."
        )
        report.data = {"ms_per_clip": {str(b): {k: v * 1e3 for k, v in times[b].items()} for b in BATCHES}}
        report.data["peak_gflops"] = peak
        report.data["flops"] = flops
        if args.profile or not int8_met:
            report.profiles["ONNX Runtime profiler, batch 1, milliseconds by operator"] = ort_profile(
                onnx_files, batch[:1], args.threads
            )
    report.emit(args.json)


def ort_profile(files: dict[str, Path], x: np.ndarray, threads: int) -> str:
    """ONNX Runtime's own profile: milliseconds per operator type (and per convolution) for each model."""
    import json

    import onnxruntime as ort
    from onnxruntime.quantization import quantize_dynamic

    files = dict(files)
    with_convs = files["fp32"].with_name("int8-dynamic-conv.onnx")
    quantize_dynamic(str(files["fp32"]), str(with_convs), op_types_to_quantize=["Conv", "MatMul"])
    files["int8 dynamic with convolutions (ConvInteger; lipread does not write this)"] = with_convs
    lines = []
    lens = np.array([x.shape[1]] * x.shape[0], np.int32)
    for name, path in files.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.enable_profiling = True
        so.profile_file_prefix = str(path.with_suffix(""))
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        runs = 3
        for _ in range(runs + 1):
            session.run(None, {"frames": x, "lengths": lens})
        events = json.loads(Path(session.end_profiling()).read_text())
        by_op: dict[str, float] = {}
        convs: dict[str, float] = {}
        for e in events:
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                op = e["args"]["op_name"]
                by_op[op] = by_op.get(op, 0.0) + e["dur"] / 1e3 / (runs + 1)
                if "Conv" in op:
                    node = e["name"].removesuffix("_kernel_time")
                    node = node.split("/conv/")[0].split("/")[-1] if "/conv/" in node else node.split("_conv")[0]
                    convs[node] = convs.get(node, 0.0) + e["dur"] / 1e3 / (runs + 1)
        top = sorted(by_op.items(), key=lambda kv: -kv[1])[:6]
        lines.append(f"{name}: " + ", ".join(f"{op} {t:.1f} ms" for op, t in top))
        # by block: per-frame convolutions are named after their node's position, in graph order
        names = [k if k.startswith("frontend") else f"frontend.{i}" for i, k in enumerate(convs)]
        lines.append("  convolutions: " + ", ".join(f"{n} {v:.1f} ms" for n, v in zip(names, convs.values())))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
