"""tools/build_default_model.py: the shipped model's files and card from a training run, numbers measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
load_file = pytest.importorskip("safetensors.numpy").load_file
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from script_module import load_script  # noqa: E402

from lipread.config import ConvBlock, get_preset  # noqa: E402
from lipread.fixed16 import from_fixed16, to_fixed16  # noqa: E402
from lipread.onnx.metadata import parse_metadata  # noqa: E402
from lipread.weights import SCALE_SUFFIX, load_checkpoint, save_checkpoint  # noqa: E402
from lipread_torch import backend  # noqa: E402
from lipread_torch.wrapper import canonical_state  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.onnx, pytest.mark.slow]

TOOL = Path(__file__).resolve().parents[1] / "tools" / "build_default_model.py"
SMALL = get_preset("lipnet").with_(
    name="lipnet-small",
    frontend=(ConvBlock(4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True, pool=(1, 4, 4)),),
    rnn_hidden=8,
    rnn_layers=1,
)


def _tensors() -> dict[str, np.ndarray]:
    """A SMALL model's canonical tensors, every one moved off its initial value (as training does: zeros and
    ones, which float16 holds exactly, would make rounding harmless)."""
    model = backend.build(SMALL, seed=0)
    rng = np.random.default_rng(0)
    tensors = {}
    for k, v in canonical_state(model.module).items():
        a = v.detach().numpy()
        shift = rng.uniform(0.5, 1.5, a.shape) if k.endswith("running_var") else 1 + 0.1 * rng.standard_normal(a.shape)
        tensors[k] = (a * shift + 0.01 * rng.standard_normal(a.shape)).astype(np.float32)
    return tensors


def _tool():  # type: ignore[no-untyped-def]
    return load_script(TOOL)


def test_builds_files_and_a_measured_card(grid_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    tensors = _tensors()
    trained_on = {"data": "grid", "init": "runs/a/last.safetensors", "align_tolerance": 3}
    save_checkpoint(run / "best.safetensors", tensors, SMALL, trained_on=trained_on, metrics={"epoch": 2})
    (run / "history.jsonl").write_text("".join(json.dumps({"epoch": e}) + "\n" for e in (1, 2, 3)))
    out = tmp_path / "models"
    tool = _tool()
    both = 2 * sum(v.nbytes for v in tensors.values())
    int8 = tool.int8_model(run / "best.safetensors", grid_root, tmp_path / "probe.int8.onnx", clips=2).stat().st_size
    limit_mb = (both * 3 // 4 + int8 + tool.HEADROOM) / 1e6  # a quarter too many: large tensors must be 16-bit

    results = tool.build(
        run,
        grid_root,
        ["lipread train grid -o run"],
        out,
        "m",
        max_clips=2,
        size_limit_mb=limit_mb,
        calibration_clips=2,
    )

    shipped = load_checkpoint(out / "m.safetensors")
    assert shipped.config == SMALL and shipped.trained_on == trained_on
    fixed = set(results["fixed16"])
    raw = load_file(str(out / "m.safetensors"))
    assert fixed and all(raw[k].dtype == np.int16 and k + SCALE_SUFFIX in raw for k in fixed)
    assert all(raw[k].dtype == np.float32 for k in shipped.tensors if k not in fixed and k in raw)
    assert not any(k.startswith("frontend.") for k in fixed)  # the export folds batch norm into those
    for k in fixed:
        np.testing.assert_array_equal(shipped.tensors[k], from_fixed16(*to_fixed16(tensors[k])))
    stored = {i.name: i.data_type for i in onnx.load(str(out / "m.onnx")).graph.initializer}
    assert sum(n.endswith("__int16") and t == onnx.TensorProto.INT16 for n, t in stored.items()) == len(fixed)
    parity = results["parity"]
    assert 0 < parity["checkpoint"]["prob"] <= parity["checkpoint"]["log_prob"] < 1e-2
    assert abs(parity["onnx"]["log_prob"] - parity["checkpoint"]["log_prob"]) < 1e-4  # the same weights in both
    assert set(results["sizes_mb"]) == {"m.safetensors", "m.onnx", "m.int8.onnx"}
    assert (
        results["total_mb"] == pytest.approx(sum(results["sizes_mb"].values()), abs=0.02)
        and results["total_mb"] <= limit_mb
    )
    assert (out / "m.int8.onnx").read_bytes() == (tmp_path / "probe.int8.onnx").read_bytes()
    int8_model = onnx.load(str(out / "m.int8.onnx"))
    assert {"QuantizeLinear", "GRU"} <= {n.op_type for n in int8_model.graph.node}
    int8_config = parse_metadata({p.key: p.value for p in int8_model.metadata_props}, "m.int8.onnx")["config"]
    assert int8_config == SMALL and int8_config.decoder == "grammar"  # the default the other two files name
    assert any(i.data_type == onnx.TensorProto.INT8 and i.name.endswith("__int8") for i in int8_model.graph.initializer)
    assert parity["onnx"]["log_prob"] < parity["int8"]["log_prob"] < 1.0
    assert results["epochs"] == 3 and results["selected_epoch"] == 2
    assert set(results["eval"]) == set(results["eval_int8"]) == {"greedy", "beam", "grammar"}
    card = " ".join((out / "m.md").read_text().split())  # words, whatever the line breaks
    assert "It is not a general lip reader" in card and "Creative Commons Attribution 4.0" in card
    assert all(f"`{k}`" in card for k in fixed) and "stored in 16-bit fixed point" in card
    assert f"{parity['onnx']['log_prob']:.2g} ({parity['onnx']['prob']:.2g}) for the ONNX model" in card
    assert f"{parity['int8']['log_prob']:.2g} ({parity['int8']['prob']:.2g}) for the int8 model" in card
    assert f"`m.int8.onnx` ({results['sizes_mb']['m.int8.onnx']} MB)" in card and "first 2 training clips" in card
    assert "lipread train grid -o run" in card and "3 epochs" in card and "epoch 2," in card
    assert "left in `runs/a/last.safetensors`" in card and "`--align-tolerance 3`" in card
    plain = tool.card("m", "tiny", {**results, "trained_on": {"data": "grid"}}, [], 9)
    assert "starting from" not in plain and "align-tolerance" not in plain and "black-and-white" not in plain
    chain = ["lipread train grid -o a", "lipread train grid -o b --init a/best.safetensors"]
    restarted = " ".join(tool.card("m", "tiny", results, chain, 9).split())
    assert "the `--init` command after it in one command: the warm restart in `RUN/restart`," in restarted
    greyed = {**results, "trained_on": {"data": "grid", "greyscale": 0.2}}
    grey_card = " ".join(tool.card("m", "tiny", greyed, [*chain, f"{chain[1]} --greyscale 0.2"], 9).split())
    assert "made a share of 0.2 of the clips grey" in grey_card and "reads black-and-white video too" in grey_card
    assert (
        "the 2 `--init` commands after it in one command: the warm restart in `RUN/restart`, then the grey "
        "fine-tune in `RUN/grey`," in grey_card
    )
    assert "their own" not in grey_card
    beyond = " ".join(tool.card("m", "tiny", greyed, [*chain, chain[1], chain[1]], 9).split())
    assert "The commands after those are their own" in beyond
    for precision, key in (("float32", "eval"), ("int8", "eval_int8")):
        for decoder, e in results[key].items():
            assert e["clips"] == 2 and e["backend"] == "onnx"
            assert f"| {decoder} | {precision} | {100 * e['cer']:.1f}% | {100 * e['wer']:.1f}% |" in card


def test_fixed16_plan_is_the_least_harmful_set_that_fits(grid_root: Path) -> None:
    tool = _tool()
    tensors = _tensors()
    x, lengths = tool.validation_batch(grid_root, SMALL, clips=2)
    both = 2 * sum(v.nbytes for v in tensors.values())
    model = backend.build(SMALL)
    model.load_state_dict(tensors)
    reference = model.logprobs(x, lengths)

    def harm(names: list[str]) -> float:
        model.load_state_dict({**tensors, **{k: from_fixed16(*to_fixed16(tensors[k])) for k in names}})
        return float(np.abs(model.logprobs(x, lengths) - reference).max())

    assert tool.compact_plan(tensors, SMALL, x, lengths, budget=both) == ([], 0.0)

    # One byte over: any single tensor is enough, and the least harmful one is taken.
    one, one_harm = tool.compact_plan(tensors, SMALL, x, lengths, budget=both - 1)
    candidates = [k for k, v in tensors.items() if v.ndim >= 2 and not k.startswith("frontend.")]
    largest = sorted(candidates, key=lambda k: -tensors[k].nbytes)[: tool.LARGEST]
    singles = {k: harm([k]) for k in largest}
    assert len(one) == 1 and one_harm == pytest.approx(min(singles.values()), abs=1e-9)
    assert singles[one[0]] == pytest.approx(one_harm, abs=1e-9) and one_harm > 0

    # Half the bytes to save: a set that saves enough, with no tensor to spare, at its measured harm.
    budget = both * 3 // 4
    half, half_harm = tool.compact_plan(tensors, SMALL, x, lengths, budget=budget)
    saved = [tensors[k].nbytes for k in half]
    assert both - sum(saved) <= budget
    assert all(both - sum(saved) + s > budget for s in saved)
    assert half_harm == pytest.approx(harm(half), abs=1e-9)

    # Not enough even with every candidate: all of them, never a front-end tensor (the export changes those).
    every, _ = tool.compact_plan(tensors, SMALL, x, lengths, budget=0)
    assert sorted(every) == sorted(largest)
