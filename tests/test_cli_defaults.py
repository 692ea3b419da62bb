"""Every sub-command's help shows each option's default, and ``lipread train DATA -o RUN`` with no other option
trains with the recipe of the shipped model's card."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from lipread.cli import build_parser
from lipread.cli import train as train_command
from lipread.data.restart import stages
from lipread.models import DEFAULT_MODEL, SHIPPED

CARD = SHIPPED[DEFAULT_MODEL].path("card")


def sub_parsers() -> dict[str, argparse.ArgumentParser]:
    root = build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(sub_parsers()))
def test_help_shows_every_default(name: str) -> None:
    """An option with a default value says so in ``--help``, with the value the parser really uses."""
    parser = sub_parsers()[name]
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        default = action.default
        switch_off = default is False and action.nargs == 0
        if not action.option_strings or default in (None, argparse.SUPPRESS) or switch_off:
            continue
        shown = re.escape(f"{default:g}" if isinstance(default, float) else str(default))
        option = re.escape(action.option_strings[-1])
        assert re.search(rf"{option}.*?\(default: [^)]*{shown}", text), f"{name} {action.option_strings}: {default!r}"


def test_the_formatter_adds_defaults_only_where_missing() -> None:
    parser = argparse.ArgumentParser(formatter_class=build_parser().formatter_class)
    parser.add_argument("--size", type=int, default=7, help="a size")
    parser.add_argument("--said", default=3, help="stated (default: three)")
    parser.add_argument("--flag", action="store_true", help="a switch")
    text = " ".join(parser.format_help().split())
    assert "a size (default: 7)" in text and "(default: three)" in text and "(default: 3)" not in text
    assert "a switch (default" not in text


def card_recipes() -> tuple[list[str], list[list[str]]]:
    """The arguments of the card's last from-scratch command (the one that ran its first schedule's final
    epochs) and of the commands with ``--init`` after it (the warm restart, the grey fine-tune), in order."""
    card = CARD.read_text(encoding="utf-8")
    commands = [shlex.split(line)[2:] for line in card.splitlines() if line.startswith("lipread train ")]
    scratch = [c for c in commands if "--init" not in c]
    inits = [i for i, c in enumerate(commands) if "--init" in c]
    assert scratch and inits, "the model card lists no training command, or no warm restart"
    assert all("--init" not in c for c in commands[: inits[0]]) and inits == list(range(inits[0], len(commands)))
    return scratch[-1], [commands[i] for i in inits]


def test_train_defaults_are_the_shipped_models_recipe() -> None:
    """``lipread train DATA -o RUN`` runs each of the card's schedules in one command: the first, then the warm
    restart from its best weights, then the grey fine-tune from the restart's (their ``--init``)."""
    parser = sub_parsers()["train"]
    args = parser.parse_args(["data", "-o", "run"])
    runs = stages(train_command.options_from_args(args), train_command.restarts_from_args(args))
    scratch, inits = card_recipes()
    assert len(runs) == 1 + len(inits) == 3
    # Where the run's files went, and how it was run on that machine, are not part of the recipe: threads
    # (every batch's randomness is seeded by its position, not by the thread that makes it) and bfloat16 on
    # the CPU. The card's later commands ran with another seed, each from the shipped file of the weights
    # before it.
    ignore = {"data", "output", "cache", "resume", "amp", "workers"}
    for ours, card, also in zip(runs, [scratch, *inits], [set(), {"init", "seed"}, {"init", "seed"}]):
        theirs = train_command.options_from_args(parser.parse_args(card))
        differ = {k: (v, getattr(theirs, k)) for k, v in vars(ours).items() if k not in ignore | also}
        differ = {k: pair for k, pair in differ.items() if pair[0] != pair[1]}
        assert not differ, f"defaults (left) differ from the card's recipe (right): {differ}"
    assert [r.epochs for r in runs] == [68, 30, 12] and "epochs 53-68" in CARD.read_text(encoding="utf-8")
    assert runs[1].init == runs[0].output / "best.safetensors"
    assert runs[2].init == runs[1].output / "best.safetensors" and runs[2].greyscale == 0.2


def test_the_api_and_the_commands_share_one_batch_size() -> None:
    """A forward pass of one clip at a time, whichever way a user transcribes: on a CPU a larger batch costs
    more time and memory per clip (the lipread.config.DEFAULT_BATCH_SIZE docstring has the figures)."""
    import inspect

    import lipread
    from lipread.config import DEFAULT_BATCH_SIZE

    api = inspect.signature(lipread.transcribe).parameters["batch_size"].default
    runner = inspect.signature(lipread.Transcriber).parameters["batch_size"].default
    commands = {name: sub_parsers()[name].get_default("batch_size") for name in ("transcribe", "eval")}
    assert api == runner == DEFAULT_BATCH_SIZE == 1 and commands == {"transcribe": 1, "eval": 1}
