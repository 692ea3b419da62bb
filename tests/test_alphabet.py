"""Any alphabet: a model trained on its own data set writes the characters of its texts (or those of a
``--vocabulary`` file), keeps them in its checkpoint and ONNX metadata, and reads with them; a run leaves the
word list of its texts for the lexicon decoder."""

from __future__ import annotations

import csv
import importlib.util
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.cli.app import main
from lipread.config import ConvBlock, ModelConfig, get_preset
from lipread.data.alphabet import (
    WORDS_FILE,
    format_vocabulary,
    missing_characters,
    parse_vocabulary,
    read_vocabulary,
    run_words,
    training_vocabulary,
    vocabulary_from_texts,
    with_training_vocabulary,
    word_list,
)
from lipread.data.grid import WORDS as GRID_WORDS
from lipread.data.manifest import normalise_text
from lipread.data.training import TrainOptions
from lipread.decoding.decoders import make_decoder
from lipread.errors import DataError, DecodingError
from lipread.vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary
from lipread.weights import save_checkpoint

TEXTS = ["Gru\u0308ße", "straße grüße", "λόγος"]
"""German and Greek texts; the first spells its ü as u + a combining diaeresis, which NFC makes one character."""
ALPHABET = " aegrstßüγλοςό"
"""Their alphabet: the space, then every other character by code point (Latin, sharp s, u umlaut, Greek)."""


def write_manifest(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["video", "text", "start", "end"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def stub_manifest(tmp_path: Path) -> Path:
    """A manifest of the three texts over empty video files (enough for everything that decodes no clip)."""
    rows = []
    for i, text in enumerate(TEXTS):
        (tmp_path / f"v{i}.mp4").write_bytes(b"")
        rows.append({"video": f"v{i}.mp4", "text": text})
    return write_manifest(tmp_path / "texts.csv", rows)


# --------------------------------------------------------------------------------------------------
# The alphabet of the texts, vocabulary files
# --------------------------------------------------------------------------------------------------


def test_the_alphabet_of_the_texts_is_space_then_code_point_order() -> None:
    vocabulary = vocabulary_from_texts(TEXTS)
    assert "".join(vocabulary.characters) == ALPHABET
    assert vocabulary.tokens[0] == "" and vocabulary.space_id == 1
    assert vocabulary_from_texts(reversed(TEXTS)) == vocabulary  # the order of the clips does not matter
    assert vocabulary_from_texts(["ab"]).characters == (" ", "a", "b")  # a space even when no text has one


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=5))
def test_the_alphabet_of_any_texts_writes_them_as_training_reads_them(texts: list[str]) -> None:
    vocabulary = vocabulary_from_texts(texts)
    assert vocabulary.characters[0] == " "
    assert list(vocabulary.characters[1:]) == sorted(vocabulary.characters[1:])
    for text in texts:
        vocabulary.encode(normalise_text(text, vocabulary))  # raises for a character it lacks
    assert missing_characters(texts, vocabulary) == []


def test_a_vocabulary_file_on_one_line_or_one_character_per_line() -> None:
    assert "".join(parse_vocabulary(" abc\n").characters) == " abc"
    assert "".join(parse_vocabulary("\ufeff \r\na\r\nb\r\nc").characters) == " abc"  # BOM, CRLF
    assert "".join(parse_vocabulary(" ab\nc\n\nd").characters) == " abcd"  # empty lines are nothing
    assert parse_vocabulary("u\u0308").characters == ("ü",)  # NFC, as the texts are read
    cased = parse_vocabulary(" ABab")
    assert normalise_text("Ab ba", cased) == "Ab ba"  # an alphabet with capitals keeps the texts' case


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no characters"),
        ("\n\n", "no characters"),
        (" abca", "line 1: 'a' is already a class \\(line 1\\)"),
        (" ab\n\nb", "line 3: 'b' is already a class \\(line 1\\)"),
        ("a\tb", "line 1: the control character '\\\\t'"),
        ("a\u2028b", "control character"),
    ],
)
def test_bad_vocabulary_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vocabulary(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_vocabulary_text_is_a_vocabulary_or_a_value_error(text: str) -> None:
    try:
        vocabulary = parse_vocabulary(text)
    except ValueError:
        return
    chars = vocabulary.characters
    assert chars and len(set(chars)) == len(chars) and all(len(c) == 1 for c in chars)
    assert not {"\n", "\r"} & set(chars)
    assert "".join(chars) == unicodedata.normalize("NFC", "".join(chars))
    assert parse_vocabulary(format_vocabulary(vocabulary)) == vocabulary  # the file it would be written as


@settings(max_examples=200, deadline=None)
@given(st.sets(st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), min_size=1, max_size=20))
def test_a_written_vocabulary_reads_back_as_the_same_classes(characters: set[str]) -> None:
    chars = sorted({unicodedata.normalize("NFC", c) for c in characters if len(unicodedata.normalize("NFC", c)) == 1})
    if not chars or chars[0] == "\ufeff":  # (a file cannot start with a byte order mark)
        return
    vocabulary = Vocabulary(chars)
    assert parse_vocabulary(format_vocabulary(vocabulary)).characters == vocabulary.characters


def test_a_vocabulary_with_an_unknown_slot_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="out-of-vocabulary slot"):
        format_vocabulary(NOTEBOOK_VOCABULARY)
    assert format_vocabulary(LIPNET_VOCABULARY) == " abcdefghijklmnopqrstuvwxyz\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a\xffb", "the vocabulary is not UTF-8 text \\(bad byte at offset 1\\)"),
        (b" ab\nb", "not a vocabulary: line 2: 'b' is already a class"),
        (b"", "not a vocabulary: no characters"),
    ],
)
def test_a_bad_vocabulary_file_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "abc.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=f"^{path}: {message}") as info:
        read_vocabulary(path)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match=f"^{tmp_path / 'none.txt'}: cannot read the vocabulary"):
        read_vocabulary(tmp_path / "none.txt")


def test_the_word_list_is_every_word_once_in_code_point_order() -> None:
    assert word_list(["b a", "a c", "λόγος a"]) == ["a", "b", "c", "λόγος"]


def test_a_run_keeps_the_words_of_the_model_it_starts_from(tmp_path: Path) -> None:
    lipnet = get_preset("lipnet")
    assert run_words(["b a", "a c"]) == ("a", "b", "c")
    stored = save_checkpoint(tmp_path / "stored.safetensors", {}, lipnet.with_(words=("bin", "zebra")))
    assert run_words(["bin blue"], stored) == ("bin", "blue", "zebra")
    # a model that stores no words read the GRID words with the lexicon decoder: its fine-tune keeps them
    grid = save_checkpoint(tmp_path / "grid.safetensors", {}, lipnet)
    assert run_words(["hello there"], grid) == tuple(sorted({*GRID_WORDS, "hello", "there"}))
    # ... unless its alphabet cannot write them: then it read none
    greek = save_checkpoint(tmp_path / "greek.safetensors", {}, lipnet.with_(vocabulary=Vocabulary(" λόγος")))
    assert run_words(["λόγος"], greek) == ("λόγος",)


def test_the_word_list_is_part_of_the_config_but_not_of_the_network() -> None:
    lipnet = get_preset("lipnet")
    config = lipnet.with_(words=("bin", "λόγος"))
    assert ModelConfig.loads(config.dumps()).words == ("bin", "λόγος")
    assert ModelConfig.loads(lipnet.dumps()).words is None
    assert config == lipnet  # a fine-tune that learns new words has the same network
    for words in (("two words",), ("",), (" bin",), ("bin", 3)):
        with pytest.raises(ValueError, match="words must be words without spaces"):
            lipnet.with_(words=words).validate()
    with pytest.raises(ValueError, match="words must be a list"):
        ModelConfig.from_json({**lipnet.to_json(), "words": "bin"})


# --------------------------------------------------------------------------------------------------
# Which vocabulary a run trains
# --------------------------------------------------------------------------------------------------


def run_options(data: Path, output: Path, **changes: object) -> TrainOptions:
    return TrainOptions(data=data, output=output, **changes)  # type: ignore[arg-type]


def test_a_manifest_trains_the_alphabet_of_its_texts(stub_manifest: Path, tmp_path: Path) -> None:
    options = with_training_vocabulary(run_options(stub_manifest, tmp_path / "run"))
    assert "".join(options.model_config.vocabulary.characters) == ALPHABET
    assert options.model_config.num_classes == len(ALPHABET) + 1
    assert options.model_config.with_(vocabulary=LIPNET_VOCABULARY) == get_preset("lipnet")  # nothing else changed
    assert options.to_json()["vocabulary"]["characters"] == list(ALPHABET)
    assert "".join(training_vocabulary(run_options(stub_manifest, tmp_path, max_clips=1)).characters) == " egrßü"


def test_an_lrs_folder_trains_the_alphabet_of_its_texts(tmp_path: Path) -> None:
    (tmp_path / "spk").mkdir()
    (tmp_path / "spk" / "a.mp4").write_bytes(b"")
    (tmp_path / "spk" / "a.txt").write_text("Text:  ΚΑΛΗ ΜΕΡΑ\nConf: 4\n", encoding="utf-8")
    assert "".join(training_vocabulary(run_options(tmp_path, tmp_path / "run")).characters) == " αεηκλμρ"


def test_a_grid_layout_keeps_the_presets_classes(grid_root: Path, tmp_path: Path) -> None:
    assert training_vocabulary(run_options(grid_root, tmp_path, max_clips=20)) == LIPNET_VOCABULARY
    notebook = run_options(grid_root, tmp_path, max_clips=20, config="lipnet-notebook")
    assert with_training_vocabulary(notebook).model_config == get_preset("lipnet-notebook")


def test_a_vocabulary_file_fixes_the_classes(stub_manifest: Path, tmp_path: Path) -> None:
    path = tmp_path / "alphabet.txt"
    path.write_text("\n".join(" ύόςολγβüßtsrgea"), encoding="utf-8")  # another order, one character more
    vocabulary = training_vocabulary(run_options(stub_manifest, tmp_path, vocabulary=path))
    assert "".join(vocabulary.characters) == " ύόςολγβüßtsrgea"


def test_texts_a_fixed_vocabulary_lacks_are_refused_naming_every_character(stub_manifest: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_text(" abcdefghijklmnopqrstuvwxyz\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        training_vocabulary(run_options(stub_manifest, tmp_path, vocabulary=path))
    message = str(info.value)
    lacking = "'ü' 'ß' 'λ' 'ό' 'γ' 'ο' 'ς'"
    assert message == f"{stub_manifest}: the texts use 7 character(s) that the vocabulary of {path} lacks: {lacking}"
    # fine-tuning keeps the checkpoint's classes (whatever the preset's), and so refuses the same way
    model = save_checkpoint(
        tmp_path / "model.safetensors", {}, get_preset("lipnet").with_(vocabulary=Vocabulary(" gr"))
    )
    init = run_options(stub_manifest, tmp_path, init=model)
    with pytest.raises(DataError, match=r"the alphabet of .*model.safetensors lacks: 'ü' 'ß' 'e' 's' 't' 'a' 'λ'"):
        training_vocabulary(init)
    grid_words = write_manifest(tmp_path / "grid.csv", [{"video": "v0.mp4", "text": "Gr gr"}])
    assert training_vocabulary(run_options(grid_words, tmp_path, init=model)).characters == (" ", "g", "r")
    # an alphabet with capitals reads the texts in their case
    cased = Vocabulary(" GRUSTAEüßλόγος")
    with pytest.raises(DataError, match=r"the vocabulary 'custom' lacks: 'r' 'e' 's' 't' 'a' 'g'$"):
        training_vocabulary(run_options(stub_manifest, tmp_path, vocabulary=cased))


def test_the_vocabulary_option_is_a_file_or_a_vocabulary(tmp_path: Path) -> None:
    assert run_options(tmp_path, tmp_path, vocabulary=str(tmp_path / "v.txt")).vocabulary == tmp_path / "v.txt"
    with pytest.raises(DataError, match="vocabulary is a file or a Vocabulary"):
        run_options(tmp_path, tmp_path, vocabulary=42)


def test_the_lexicon_decoder_reads_words_of_any_alphabet() -> None:
    vocabulary = vocabulary_from_texts(TEXTS)
    decoder = make_decoder("lexicon", vocabulary, 4, ["Gru\u0308ße", "λόγος"])  # normalised like the texts
    assert decoder.constraint is not None
    with pytest.raises(DecodingError, match=r"alphabet lacks 'bcdfhijklmnopquvwxyz' of the GRID grammar"):
        make_decoder("grammar", vocabulary)
    with pytest.raises(DecodingError, match=r"GRID word list .*words\.txt"):
        make_decoder("lexicon", vocabulary)


# --------------------------------------------------------------------------------------------------
# The command: bad vocabulary files and missing characters stop `lipread train` in one line
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (" abc\tdef", "not a vocabulary: line 1: the control character"),
        (" abcdefghijklmnopqrstuvwxyz", "lacks: 'ü' 'ß' 'λ'"),
    ],
)
def test_train_refuses_a_bad_vocabulary_in_one_line(
    stub_manifest: Path, tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "v.txt"
    path.write_text(content, encoding="utf-8")
    assert main(["train", str(stub_manifest), "-o", str(tmp_path / "run"), "--vocabulary", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipread: error: ") and "\n" not in err and message in err
    assert str(path if "not a vocabulary" in message else stub_manifest) in err
    assert not (tmp_path / "run" / "last.ckpt").exists()


# --------------------------------------------------------------------------------------------------
# One epoch on German and Greek texts: the alphabet in the checkpoint, the ONNX file and the decoders
# --------------------------------------------------------------------------------------------------

TINY = get_preset("lipnet").with_(
    frontend=tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, 0.0, b.pool)
        for c, b in zip((4, 6, 5), get_preset("lipnet").frontend)
    ),
    rnn_hidden=8,
    rnn_layers=1,
)
"""A narrow lipnet-shaped model that trains an epoch of three short clips in seconds."""


@pytest.fixture(scope="module")
def faces(shared_data: Path) -> Path:
    root = shared_data / "grid" / "faces" / "s4"
    if not root.is_dir():
        pytest.skip(f"GRID speaker 4 face crops not found in {root}")
    return root


@pytest.fixture(scope="module")
def short_manifest(faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three texts over the first 0.8 s (20 frames) of three clips of speaker 4."""
    folder = tmp_path_factory.mktemp("alphabet")
    rows = [
        {"video": str(faces / name), "text": text, "start": 0.0, "end": 0.8}
        for name, text in zip(("bbie7p", "bbwf9p", "lbid2a"), TEXTS)
    ]
    return write_manifest(folder / "mine.csv", rows)


def tiny_options(manifest: Path, output: Path, **changes: object) -> TrainOptions:
    settings = {
        "config": TINY,
        "cache": manifest.parent / "cache",
        "epochs": 1,
        "batch_size": 3,
        "train_on_validation": True,
        "val_fraction": 1.0,
        "beam_width": 2,
        "examples": 0,
        "workers": 1,
        "progress": False,
        "device": "cpu",
        "conv_dropout": None,
    }
    return TrainOptions(data=manifest, output=output, **{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def torch_run(short_manifest: Path) -> Path:
    torch = pytest.importorskip("torch")
    from lipread_torch import backend

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = backend.train(tiny_options(short_manifest, short_manifest.parent / "run"))
    finally:
        torch.set_num_threads(threads)
    return result.output


@pytest.mark.torch
def test_torch_training_stores_the_alphabet_and_the_word_list(torch_run: Path) -> None:
    from lipread.weights import load_checkpoint, read_metadata

    for name in ("last.safetensors", "best.safetensors"):
        checkpoint = load_checkpoint(torch_run / name)
        assert "".join(checkpoint.config.vocabulary.characters) == ALPHABET
        assert checkpoint.tensors["classifier.weight"].shape[0] == len(ALPHABET) + 1
    assert read_metadata(torch_run / "last.safetensors")["trained_on"]["vocabulary"]["characters"] == list(ALPHABET)
    assert (torch_run / WORDS_FILE).read_text(encoding="utf-8") == "grüße\nstraße\nλόγος\n"
    assert checkpoint.config.words == ("grüße", "straße", "λόγος")


@pytest.mark.torch
def test_the_alphabet_reaches_the_onnx_file_and_the_decoders(
    torch_run: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx = pytest.importorskip("onnx")
    exported = torch_run / "model.onnx"
    assert main(["export", str(torch_run / "last.safetensors"), "-o", str(exported)]) == 0
    capsys.readouterr()
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert json.loads(props["lipread_vocabulary"])["characters"] == list(ALPHABET)
    assert json.loads(props["lipread_config"])["vocabulary"]["characters"] == list(ALPHABET)
    assert json.loads(props["lipread_config"])["words"] == ["grüße", "straße", "λόγος"]

    # ONNX Runtime reads the ONNX file; PyTorch (the only backend of the torch test session) the checkpoint
    models = [torch_run / "last.safetensors"]
    if importlib.util.find_spec("onnxruntime") is not None:
        models.append(exported)
    clip = str(faces / "swao1n")
    for model in models:
        for decoder in ("greedy", "beam"):
            argv = ["transcribe", clip, "--model", str(model), "--decoder", decoder, "--format", "json"]
            assert main(argv) == 0, (model, decoder)
            result = json.loads(capsys.readouterr().out.strip().splitlines()[0])
            assert result["decoder"] == decoder and set(result["text"]) <= set(ALPHABET)
        # the lexicon decoder with the run's word list reads only words of the training texts
        argv = ["transcribe", clip, "--model", str(model), "--decoder", "lexicon", "--lexicon"]
        assert main([*argv, str(torch_run / WORDS_FILE), "--format", "json"]) == 0
        text = json.loads(capsys.readouterr().out.strip().splitlines()[0])["text"]
        assert text and set(text.split()) <= {"grüße", "straße", "λόγος"}
        # ... and so it does without --lexicon, with the word list the model stores
        argv = ["transcribe", clip, "--model", str(model), "--decoder", "lexicon", "--format", "json"]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[0])["text"] == text
        # the GRID grammar cannot be spelt in this alphabet: one line naming the model
        assert main(["transcribe", clip, "--model", str(model), "--decoder", "grammar"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"lipread: error: {model}: the grammar decoder reads GRID sentences") and "\n" not in err


@pytest.mark.torch
def test_adapting_a_model_to_texts_outside_its_alphabet_is_refused(
    torch_run: Path, faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "en.csv", [{"video": str(faces / "bbie7p"), "text": "grüße bin"}])
    source = torch_run / "last.safetensors"
    assert main(["adapt", str(manifest), "-o", str(tmp_path / "run"), "--from", str(source)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"lipread: error: {manifest}: the texts use 3 character(s) that {source} cannot write: ")
    assert "'b' 'i' 'n'" in err and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.tensorflow
def test_tensorflow_trains_exports_and_reads_a_model_of_the_texts_alphabet(
    short_manifest: Path, faces: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tensorflow")
    import numpy as np

    from lipread.weights import load_checkpoint
    from lipread_tf import backend

    result = backend.train(tiny_options(short_manifest, short_manifest.parent / "tf-run"))
    checkpoint = load_checkpoint(result.last)
    assert "".join(checkpoint.config.vocabulary.characters) == ALPHABET
    assert (result.output / WORDS_FILE).read_text(encoding="utf-8") == "grüße\nstraße\nλόγος\n"
    assert checkpoint.config.words == ("grüße", "straße", "λόγος")
    model = backend.load(result.last)
    assert model.config.vocabulary == checkpoint.config.vocabulary
    frames = np.zeros((1, 20, TINY.height, TINY.width, TINY.channels), np.float32)
    logprobs = np.asarray(model.logprobs(frames, np.array([20], np.int32)))
    assert logprobs.shape == (1, 20, len(ALPHABET) + 1)

    onnx = pytest.importorskip("onnx")
    exported = backend.export_onnx(model, result.output / "model.onnx")
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert json.loads(props["lipread_vocabulary"])["characters"] == list(ALPHABET)
    if importlib.util.find_spec("onnxruntime") is not None:
        argv = ["transcribe", str(faces / "swao1n"), "--model", str(exported), "--decoder", "beam", "--format", "json"]
        capsys.readouterr()  # (the training's log)
        assert main(argv) == 0
        assert set(json.loads(capsys.readouterr().out.strip().splitlines()[0])["text"]) <= set(ALPHABET)
