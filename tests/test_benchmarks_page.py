"""The "what to expect" table at the top of docs/benchmarks.md quotes benchmarks/RESULTS.md, so it cannot drift
from the measured results unnoticed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _expect_table() -> str:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    section = page.split("## What to expect", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 5, "the table has a header and five rows"
    return "\n".join(rows[2:])


def test_every_figure_of_the_table_is_in_the_results() -> None:
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    measured = [row.split(" | ")[1] for row in _expect_table().splitlines()]
    figures = re.findall(r"\d+(?:\.\d+)?(?= ?(?:s\b|ms\b|MB\b|clips/s|%))", " ".join(measured))
    assert len(figures) >= 9
    missing = [f for f in figures if not re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", results)]
    assert missing == [], f"docs/benchmarks.md quotes figures that benchmarks/RESULTS.md does not have: {missing}"
