"""Importing the LipNet notebook's TensorFlow checkpoint (``lipread import notebook``).

The test writes a checkpoint under exactly the notebook's variable names from the notebook's own Keras
Sequential model with random weights, imports it, and checks that the imported model transcribes a real
GRID clip exactly as the notebook's own decoding (``ctc_decode`` + ``StringLookup``) does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from lipread.cli import import_  # noqa: E402
from lipread.config import get_preset  # noqa: E402
from lipread.decoding import greedy_decode  # noqa: E402
from lipread.errors import CheckpointError  # noqa: E402
from lipread.video.preprocess import load_clip  # noqa: E402
from lipread.weights import read_metadata  # noqa: E402
from lipread_tf import backend  # noqa: E402
from lipread_tf.notebook import NOTEBOOK_VARIABLES, read_notebook_checkpoint, resolve_checkpoint_prefix  # noqa: E402

pytestmark = pytest.mark.tensorflow


def import_command(*argv: str) -> int:
    """Run ``lipread import ...`` (the sub-command alone, as :mod:`lipread.cli` wires it)."""
    parser = argparse.ArgumentParser(prog="lipread")
    import_.add_parser(parser.add_subparsers())
    return import_.run(parser.parse_args(["import", *argv]))


NOTEBOOK_CHARS = "abcdefghijklmnopqrstuvwxyz'?!123456789 "
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "notebook-checkpoint-variables.txt"
OPTIMIZER_VARIABLES = {
    f"optimizer/{name}/.ATTRIBUTES/VARIABLE_VALUE": ()
    for name in ("beta_1", "beta_2", "decay", "iter", "learning_rate")
}


def notebook_model(seed: int) -> keras.Sequential:
    """The LipNet notebook's LipNet, layer for layer (initialisers seeded)."""
    L, init = keras.layers, keras.initializers
    convs = []
    for i, channels in enumerate((128, 256, 75)):
        convs += [
            L.Conv3D(channels, 3, padding="same", kernel_initializer=init.GlorotUniform(seed + i)),
            L.Activation("relu"),
            L.MaxPool3D((1, 2, 2)),
        ]

    def bilstm(s: int) -> keras.layers.Layer:
        lstm = L.LSTM(
            128,
            kernel_initializer=init.Orthogonal(seed=s),
            recurrent_initializer=init.Orthogonal(seed=s + 1),
            return_sequences=True,
        )
        return L.Bidirectional(lstm)

    return keras.Sequential(
        [
            keras.Input((75, 46, 140, 1)),
            *convs,
            L.TimeDistributed(L.Flatten()),
            bilstm(seed + 10),
            L.Dropout(0.5),
            bilstm(seed + 20),
            L.Dropout(0.5),
            L.Dense(41, kernel_initializer=init.HeNormal(seed + 30), activation="softmax"),
        ]
    )


def write_notebook_checkpoint(model: keras.Sequential, prefix: Path) -> None:
    """Save ``model``'s variables as Keras 2's ``save_weights`` named them, plus the optimiser scalars and
    the ``checkpoint`` state file."""

    def var(v: keras.Variable) -> tf.Variable:
        return tf.Variable(np.asarray(v.numpy()))

    nodes = {}
    for k, layer in enumerate(x for x in model.layers if x.weights):
        if isinstance(layer, keras.layers.Bidirectional):
            directions = {}
            for name, sub in (("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)):
                c = sub.cell
                cell = tf.train.Checkpoint(
                    kernel=var(c.kernel), recurrent_kernel=var(c.recurrent_kernel), bias=var(c.bias)
                )
                directions[name] = tf.train.Checkpoint(cell=cell)
            nodes[f"layer_with_weights-{k}"] = tf.train.Checkpoint(**directions)
        else:
            nodes[f"layer_with_weights-{k}"] = tf.train.Checkpoint(kernel=var(layer.kernel), bias=var(layer.bias))
    optimizer = tf.train.Checkpoint(
        beta_1=tf.Variable(0.9),
        beta_2=tf.Variable(0.999),
        decay=tf.Variable(0.0),
        iter=tf.Variable(np.int64(1800)),
        learning_rate=tf.Variable(1e-4),
    )
    tf.train.Checkpoint(optimizer=optimizer, **nodes).write(str(prefix))
    prefix.write_text(f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n')


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory, grid_clip: Path) -> tuple[keras.Sequential, Path]:
    """The notebook's model with random weights and its checkpoint at ``<tmp>/models/checkpoint``.

    At initialisation the recurrent features hardly vary over the clip, so every frame would get the same
    class. The output layer is set to read their variation instead: ``softmax((h - mean_t h) W)`` with a
    random ``W``, which makes the transcription change from frame to frame (still gibberish).
    """
    model = notebook_model(seed=7)
    frames = load_clip(grid_clip, get_preset("lipnet-notebook"))[None]
    features = keras.Model(model.inputs, model.layers[-2].output).predict(frames, verbose=0)[0]
    centred = features - features.mean(0)
    w = np.random.default_rng(7).normal(0, 3 / (16 * centred.std()), (256, 41)).astype(np.float32)
    dense = model.layers[-1]
    dense.kernel.assign(w)
    dense.bias.assign(-features.mean(0) @ w)
    folder = tmp_path_factory.mktemp("notebook") / "models"
    folder.mkdir()
    write_notebook_checkpoint(model, folder / "checkpoint")
    return model, folder / "checkpoint"


def reference_variables() -> dict[str, tuple[int, ...]]:
    out = {}
    for line in REFERENCE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, shape, _dtype = line.split("\t")
            out[name] = tuple(int(s) for s in shape.strip("[]").split(",") if s.strip())
    return out


def test_written_checkpoint_has_exactly_the_notebook_variable_names(notebook: tuple[keras.Sequential, Path]) -> None:
    _, prefix = notebook
    written = {name: tuple(shape) for name, shape in tf.train.list_variables(str(prefix))}
    written.pop("_CHECKPOINTABLE_OBJECT_GRAPH")
    assert written == {**NOTEBOOK_VARIABLES, **OPTIMIZER_VARIABLES}
    if REFERENCE.is_file():
        assert written == reference_variables()


def test_notebook_model_has_the_notebooks_parameter_count(notebook: tuple[keras.Sequential, Path]) -> None:
    model, _ = notebook
    assert model.count_params() == 8_471_924


def test_imported_model_transcribes_like_the_notebook(
    notebook: tuple[keras.Sequential, Path], grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, prefix = notebook
    out = tmp_path / "notebook.safetensors"
    assert import_command("notebook", str(prefix), "-o", str(out)) == 0
    assert "lipnet-notebook" in capsys.readouterr().out
    assert read_metadata(out)["config"] == get_preset("lipnet-notebook")

    config = get_preset("lipnet-notebook")
    frames = load_clip(grid_clip, config)[None]
    # The notebook's decoding: softmax outputs (blank last) -> ctc_decode -> StringLookup.
    yhat = model.predict(frames, verbose=0)
    decoded = tf.keras.backend.ctc_decode(yhat, input_length=[frames.shape[1]], greedy=True)[0][0]
    num_to_char = keras.layers.StringLookup(vocabulary=list(NOTEBOOK_CHARS), oov_token="", invert=True)
    expected = tf.strings.reduce_join(num_to_char(decoded[0])).numpy().decode()

    imported = backend.load(out)
    logprobs = imported.logprobs(frames)
    got = greedy_decode(logprobs[0], config.vocabulary).text
    assert len(expected) >= 10
    assert got == expected
    # Not only the same text: the same distribution, with the classes reordered (blank first).
    order = (np.arange(41) - 1) % 41
    np.testing.assert_allclose(np.exp(logprobs[0]), yhat[0][:, order], atol=1e-5)


def test_checkpoint_path_forms(notebook: tuple[keras.Sequential, Path]) -> None:
    _, prefix = notebook
    for form in (prefix, prefix.parent, Path(f"{prefix}.index"), Path(f"{prefix}.data-00000-of-00001")):
        assert resolve_checkpoint_prefix(form) == str(prefix)


def test_state_file_naming_another_prefix(notebook: tuple[keras.Sequential, Path], tmp_path: Path) -> None:
    _, prefix = notebook
    state = tmp_path / "checkpoint"
    state.write_text(f'model_checkpoint_path: "{prefix}"\n')
    assert resolve_checkpoint_prefix(state) == str(prefix)


def test_missing_checkpoint(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "checkpoint"
    with pytest.raises(CheckpointError, match=f"{missing}: checkpoint not found"):
        import_command("notebook", str(missing), "-o", str(tmp_path / "x.safetensors"))
    assert not (tmp_path / "x.safetensors").exists()


def test_not_a_tensorflow_checkpoint(tmp_path: Path) -> None:
    prefix = tmp_path / "checkpoint"
    Path(f"{prefix}.index").write_bytes(b"this is not a checkpoint index" * 10)
    with pytest.raises(CheckpointError, match="not a readable TensorFlow checkpoint"):
        read_notebook_checkpoint(prefix)
    plain = tmp_path / "weights.txt"
    plain.write_text("hello")
    with pytest.raises(CheckpointError, match="not a TensorFlow checkpoint"):
        read_notebook_checkpoint(plain)


def test_missing_or_misshapen_variable_is_named(tmp_path: Path) -> None:
    kernel = tf.train.Checkpoint(kernel=tf.Variable(np.zeros((3, 3, 3, 1, 128), np.float32)))
    tf.train.Checkpoint(**{"layer_with_weights-0": kernel}).write(str(tmp_path / "a"))
    with pytest.raises(CheckpointError, match=r"layer_with_weights-0/bias/\.ATTRIBUTES/VARIABLE_VALUE' is missing"):
        read_notebook_checkpoint(tmp_path / "a")
    wrong = tf.train.Checkpoint(kernel=tf.Variable(np.zeros((3, 3, 3, 1, 64), np.float32)))
    tf.train.Checkpoint(**{"layer_with_weights-0": wrong}).write(str(tmp_path / "b"))
    with pytest.raises(CheckpointError, match=r"layer_with_weights-0/kernel.*shape \[3, 3, 3, 1, 64\]"):
        read_notebook_checkpoint(tmp_path / "b")


def test_a_truncated_data_file_is_named(notebook: tuple[keras.Sequential, Path], tmp_path: Path) -> None:
    """An interrupted copy of the checkpoint: its .data file cut in half."""
    _, state = notebook
    copy = tmp_path / "models"
    copy.mkdir()
    for f in state.parent.iterdir():
        data = f.read_bytes()
        (copy / f.name).write_bytes(data[: len(data) // 2] if ".data-" in f.name else data)
    with pytest.raises(CheckpointError, match=r"the checkpoint's data file is truncated or damaged"):
        read_notebook_checkpoint(copy / "checkpoint")


def test_the_import_writes_only_a_safetensors_checkpoint(
    notebook: tuple[keras.Sequential, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipread.cli import main

    _, state = notebook
    out = tmp_path / "model.onnx"
    assert main(["import", "notebook", str(state), "-o", str(out)]) == 1
    assert capsys.readouterr().err == f"lipread: error: {out}: the checkpoint to write must end in .safetensors\n"
    assert not out.exists()
