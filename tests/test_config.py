"""Model configurations: the presets exactly as DESIGN.md tabulates them, and the JSON round trip."""

from __future__ import annotations

import json

import pytest

from lipread.config import PRESETS, ConvBlock, ModelConfig, get_preset
from lipread.errors import ArgumentError
from lipread.vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY


def test_lipnet_preset() -> None:
    c = get_preset("lipnet")
    assert (c.frames, c.height, c.width, c.channels) == (75, 50, 100, 3)
    assert [b.channels for b in c.frontend] == [32, 64, 96]
    assert [b.kernel for b in c.frontend] == [(3, 5, 5), (3, 5, 5), (3, 3, 3)]
    assert [b.stride for b in c.frontend] == [(1, 2, 2), (1, 1, 1), (1, 1, 1)]
    assert [b.padding for b in c.frontend] == [(1, 2, 2), (1, 2, 2), (1, 1, 1)]
    assert all(b.batchnorm and b.dropout == 0.5 and b.pool == (1, 2, 2) for b in c.frontend)
    assert (c.rnn, c.rnn_hidden, c.rnn_layers) == ("gru", 256, 2)
    assert c.vocabulary == LIPNET_VOCABULARY and c.num_classes == 28
    assert c.crop == "lipnet"
    assert c.feature_shape() == (96, 3, 6) and c.feature_size == 1728


def test_notebook_preset() -> None:
    c = get_preset("lipnet-notebook")
    assert (c.frames, c.height, c.width, c.channels) == (75, 46, 140, 1)
    assert [b.channels for b in c.frontend] == [128, 256, 75]
    assert all(b.kernel == (3, 3, 3) and b.stride == (1, 1, 1) and b.padding == (1, 1, 1) for b in c.frontend)
    assert all(not b.batchnorm and b.dropout == 0.0 and b.pool == (1, 2, 2) for b in c.frontend)
    assert (c.rnn, c.rnn_hidden, c.rnn_layers, c.rnn_dropout) == ("lstm", 128, 2, 0.5)
    assert c.vocabulary == NOTEBOOK_VOCABULARY and c.num_classes == 41
    assert c.crop == "notebook"
    assert c.feature_shape() == (75, 5, 17)


def _keras_parameter_count(c: ModelConfig) -> int:
    """Parameters of the Keras model (one bias per LSTM gate), computed from the config alone."""
    total, channels = 0, c.channels
    for b in c.frontend:
        k = b.kernel[0] * b.kernel[1] * b.kernel[2]
        total += channels * b.channels * k + b.channels
        channels = b.channels
    size = c.feature_size
    for _ in range(c.rnn_layers):
        total += 2 * 4 * (size * c.rnn_hidden + c.rnn_hidden * c.rnn_hidden + c.rnn_hidden)
        size = 2 * c.rnn_hidden
    return total + size * c.num_classes + c.num_classes


def test_notebook_parameter_count() -> None:
    assert _keras_parameter_count(get_preset("lipnet-notebook")) == 8_471_924


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(name: str) -> None:
    c = get_preset(name)
    assert ModelConfig.from_json(c.to_json()) == c
    assert ModelConfig.loads(c.dumps()) == c
    assert ModelConfig.loads(json.dumps(json.loads(c.dumps()))) == c
    small = c.with_(rnn_hidden=8, frontend=(ConvBlock(4, (3, 3, 3)),))
    assert ModelConfig.loads(small.dumps()) == small != c


def test_invalid_configs() -> None:
    good = get_preset("lipnet").to_json()
    with pytest.raises(ValueError, match=r"unknown model preset 'lipnet2'.*lipnet-notebook"):
        get_preset("lipnet2")
    with pytest.raises(ValueError, match="not a valid model config: the field 'frontend' is missing"):
        ModelConfig.from_json({k: v for k, v in good.items() if k != "frontend"})
    with pytest.raises(ValueError, match="not a valid model config: a JSON object of fields, not list"):
        ModelConfig.from_json([good])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fields"):
        ModelConfig.from_json({**good, "colour": "red"})
    with pytest.raises(ValueError, match="rnn must be"):
        ModelConfig.from_json({**good, "rnn": "transformer"})
    with pytest.raises(ValueError, match="decoder must be one of greedy, beam, lexicon, grammar or null, not 'best'"):
        ModelConfig.from_json({**good, "decoder": "best"})


def test_json_blocks_are_read_as_written() -> None:
    """No value is cast to another type (a string of digits, a float, "false"), an unknown key in a block is
    refused as one at the top is, and what a block leaves out takes ConvBlock's defaults."""
    good = get_preset("lipnet").to_json()

    def with_block(**block: object) -> dict[str, object]:
        return {**good, "frontend": [{**good["frontend"][0], **block}, *good["frontend"][1:]]}

    for value, shown in (("32", "'32'"), (32.7, "32.7"), (True, "True")):
        with pytest.raises(ValueError, match=rf"frontend\[0\]\.channels must be a whole number .* not {shown}"):
            ModelConfig.from_json(with_block(channels=value))
    with pytest.raises(ValueError, match=r"frontend\[0\]\.batchnorm must be true or false, not 'false'"):
        ModelConfig.from_json(with_block(batchnorm="false"))
    with pytest.raises(ValueError, match=r"frontend\[0\] has unknown fields \['strides'\]"):
        ModelConfig.from_json(with_block(strides=[1, 2, 2]))
    with pytest.raises(ValueError, match=r"frontend\[1\] lacks its 'kernel'"):
        ModelConfig.from_json({**good, "frontend": [good["frontend"][0], {"channels": 8}]})
    short = {**good, "frontend": [{"channels": 8, "kernel": [3, 5, 5]}]}
    assert ModelConfig.from_json(short).frontend == (ConvBlock(8, (3, 5, 5)),)
    assert ModelConfig.from_json({**good, "vocabulary": "lipnet"}) == get_preset("lipnet")
    with pytest.raises(ValueError, match=r"unknown vocabulary 'lipnet2'"):
        ModelConfig.from_json({**good, "vocabulary": "lipnet2"})
    with pytest.raises(ValueError, match=r"vocabulary 'name' must be a string, not 3"):
        ModelConfig.from_json({**good, "vocabulary": {"characters": [" ", "a"], "name": 3}})


def test_with_names_only_fields() -> None:
    lipnet = get_preset("lipnet")
    with pytest.raises(ArgumentError, match=r"ModelConfig has no field 'rnn_hiden'"):
        lipnet.with_(rnn_hiden=8)
    listed = lipnet.with_(frontend=[ConvBlock(4, (3, 3, 3))])
    assert listed.frontend == (ConvBlock(4, (3, 3, 3)),)
    listed.validate()
    with pytest.raises(ValueError, match=r"vocabulary must be a Vocabulary, not str"):
        lipnet.with_(vocabulary=" abc").validate()


def test_decoder_is_stored_but_not_part_of_the_network() -> None:
    """The decoder a model names travels with its config, old configs without the field read as None, and it
    does not make two configs of the same network differ (fine-tuning from a shipped model checks equality)."""
    c = get_preset("lipnet")
    named = c.with_(decoder="grammar")
    assert ModelConfig.loads(named.dumps()).decoder == "grammar"
    assert ModelConfig.from_json({k: v for k, v in c.to_json().items() if k != "decoder"}).decoder is None
    assert named == c and c.decoder is None


def test_presets_by_name_in_any_case() -> None:
    assert get_preset(" LipNet ") is get_preset("lipnet")
    with pytest.raises(ValueError, match=r"unknown model preset \['lipnet'\]"):
        get_preset(["lipnet"])  # type: ignore[arg-type]
