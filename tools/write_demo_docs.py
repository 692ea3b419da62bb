"""Write the output of ``lipread demo`` and the shipped model's accuracy into the pages that show them.

Each page holds the output between ``<!-- lipread-demo -->`` and ``<!-- /lipread-demo -->`` in a fenced block,
and a sentence with the accuracy its model card measured between ``<!-- lipread-accuracy -->`` and
``<!-- /lipread-accuracy -->``. Run this after the shipped model changes; ``tests/test_demo.py`` fails while a
page shows other output or numbers than the checkout's model gives::

    python tools/write_demo_docs.py          # rewrite the blocks
    python tools/write_demo_docs.py --check  # exit status 1 when a block is stale
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (ROOT / "docs" / "index.md", ROOT / "docs" / "quickstart.md")
"""The pages with a demo block (a page without the markers is left alone)."""
MARKERS = ("lipread-demo", "lipread-accuracy")


def _block(name: str) -> re.Pattern[str]:
    """The text between ``<!-- name -->`` and ``<!-- /name -->``, which may be indented (in an admonition)."""
    return re.compile(rf"^([ \t]*)<!-- {name} -->\n.*?^[ \t]*<!-- /{name} -->$", re.DOTALL | re.MULTILINE)


CARD = ROOT / "lipread" / "models" / "lipnet-grid-s1.md"
ROW = re.compile(r"^\| (\w+) \| (?:float32 \| )?([\d.]+%) \| ([\d.]+%) \| ([\d.]+%) \|", re.MULTILINE)
"""A row of the card's accuracy table: decoder, CER, WER, sentence accuracy (the float32 model's, where the table
also has int8 rows)."""
CLIPS = re.compile(r"on the (\d+) validation clips")


def accuracy_sentence(card: str) -> str:
    """The sentence of the pages about the shipped model's accuracy, from its card's table (``card``: its text).

    Raises:
        SystemExit: the card has no accuracy row for the ``grammar`` and ``beam`` decoders.
    """
    rows = {m.group(1): m.groups()[1:] for m in ROW.finditer(card)}
    clips = CLIPS.search(card)
    if "grammar" not in rows or "beam" not in rows or clips is None:
        raise SystemExit(f"{CARD}: no accuracy table with grammar and beam rows")
    (cer, wer, sentences), (beam_cer, beam_wer, _) = rows["grammar"], rows["beam"]
    return (
        f"On {clips.group(1)} held-out clips of that speaker: **CER {cer}, WER {wer}, {sentences} of sentences "
        f"exactly right** with its default decoder, which writes only GRID sentences (CER {beam_cer}, WER "
        f"{beam_wer} with an unconstrained beam search).\n"
    )


def demo_output() -> str:
    """What ``lipread demo`` prints with the default model, backend and decoder."""
    sys.path.insert(0, str(ROOT))
    from lipread.cli.app import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["demo"])
    if status:
        raise SystemExit(f"lipread demo failed with exit status {status}")
    return out.getvalue()


def fill(page: str, output: str, accuracy: str) -> str:
    """``page`` with every demo block holding ``output`` as a ``console`` code block after ``$ lipread demo``,
    and every accuracy block holding ``accuracy``; the content takes the indentation of its markers."""
    contents = {"lipread-demo": f"```console\n$ lipread demo\n{output.rstrip()}\n```\n", "lipread-accuracy": accuracy}
    for name in MARKERS:

        def put(m: re.Match[str], name: str = name) -> str:
            indent = m.group(1)
            lines = "".join(f"{indent}{line}".rstrip() + "\n" for line in contents[name].splitlines())
            return f"{indent}<!-- {name} -->\n{lines}{indent}<!-- /{name} -->"

        page = _block(name).sub(put, page)
    return page


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="report stale blocks and change nothing")
    args = p.parse_args(argv)
    output = demo_output()
    accuracy = accuracy_sentence(CARD.read_text(encoding="utf-8"))
    stale = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        new = fill(text, output, accuracy)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    for page in stale:
        print(f"{page}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
