"""What the benchmark scripts share: interleaved timing, the machine's description, cProfile summaries, and
output as a Markdown report or JSON (``--json``), which ``run_all.py`` gathers into ``RESULTS.md``.

Every figure the scripts report is a ratio to a baseline measured in the same run: the cases being compared
are timed in turn, round after round (``A B C A B C ...``), so that a change in the machine's load during the
run affects all of them alike, and the median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # lipread from this checkout, installed or not

GRID = ROOT.parent / "shared" / "data" / "grid"
"""The GRID speaker-1 clips (``s1/*.mp4``) and alignments beside the checkout."""

CLIP = GRID / "s1" / "bbaf2n.mp4"
"""The clip the single-clip benchmarks read."""


def need_data() -> None:
    """Exit with a message when the GRID data is not beside the checkout."""
    if not CLIP.is_file():
        sys.exit(f"{CLIP} not found: the benchmarks read GRID clips from ../shared/data/grid beside the checkout")


def log(message: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


def calls_per_sample(fn: Callable[[], Any], seconds: float = 0.02) -> int:
    """How many calls of ``fn`` make one sample of at least ``seconds`` (``fn`` is called once to tell)."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    return max(1, int(seconds / max(elapsed, 1e-9)))


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
"""``cpu``: this process's CPU time (user + system, all its threads); ``wall``: elapsed time."""


def interleaved(
    cases: dict[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 1,
    sample_seconds: float = 0.0,
    clock: str = "cpu",
) -> dict[str, list[float]]:
    """Time every case once per round, in turn, after ``warmup`` untimed calls of each.

    Args:
        cases: name -> a function of no arguments doing one unit of work.
        rounds: samples per case.
        warmup: untimed calls of each case first.
        sample_seconds: when > 0, a sample is the mean over as many calls as take about this long (for
            work of microseconds, where one call is too short to time).
        clock: ``"cpu"`` or ``"wall"`` (see :data:`CLOCKS`). CPU time is the default because the machine
            may be shared: another process taking turns on the same core stretches wall time at random, but
            not the CPU time the work itself takes.

    Returns:
        name -> ``rounds`` samples, seconds per call.
    """
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    number = {name: calls_per_sample(fn, sample_seconds) if sample_seconds > 0 else 1 for name, fn in cases.items()}
    now = CLOCKS[clock]
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            n = number[name]
            start = now()
            for _ in range(n):
                fn()
            samples[name].append((now() - start) / n)
    return samples


def median(samples: list[float]) -> float:
    """The median of ``samples``."""
    return statistics.median(samples)


def spread(samples: list[float]) -> str:
    """``min-max`` of ``samples`` in milliseconds, for the tables."""
    return f"{min(samples) * 1e3:.3g}-{max(samples) * 1e3:.3g}"


# --------------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def _process_ticks() -> dict[int, tuple[int, str]]:
    """pid -> (user + system clock ticks so far, command line) of every process but this one."""
    out: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError):
            continue
        out[int(entry.name)] = (int(fields[11]) + int(fields[12]), cmd)
    return out


def other_load(seconds: float = 1.0) -> tuple[float, list[str]]:
    """Cores kept busy by other processes over ``seconds``, and the command lines of those using >= 20% of one."""
    if not Path("/proc/stat").is_file():
        return float("nan"), []
    hz = os.sysconf("SC_CLK_TCK")
    before = _process_ticks()
    time.sleep(seconds)
    after = _process_ticks()
    busy = 0.0
    heavy: list[str] = []
    for pid, (ticks, cmd) in after.items():
        if pid in before:
            share = (ticks - before[pid][0]) / hz / seconds
            busy += share
            if share >= 0.2 and cmd:
                heavy.append(f"{share:.0%} {cmd[:100]}")
    return busy, heavy


def machine() -> dict[str, Any]:
    """This machine: CPU model, cores, RAM, Python, and what else keeps its cores busy right now."""
    cores = os.cpu_count() or 1
    busy, heavy = other_load()
    training = any(" train " in f" {h} " and "lipread" in h for h in heavy)
    desc = f"{_cpu_model()}, {cores} cores, {_ram_gib():.0f} GiB RAM, Python {platform.python_version()}"
    if training:
        share = "one core" if busy < 1.5 else f"{busy:.1f} of the {cores} cores"
        desc += f"; {share} busy with a training run (other processes together: {busy:.1f} cores)"
    elif busy >= 0.5:
        desc += f"; other processes kept {busy:.1f} cores busy"
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "ram_gib": round(_ram_gib(), 1),
        "python": platform.python_version(),
        "other_busy_cores": round(busy, 2),
        "other_processes": heavy,
        "training_run": training,
        "description": desc,
    }


def set_threads(threads: int) -> None:
    """Ask NumPy's BLAS and OpenMP-based libraries imported later for ``threads`` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


# --------------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------------


def profile_summary(fn: Callable[[], Any], calls: int = 5, top: int = 12) -> str:
    """cProfile ``calls`` calls of ``fn``: the ``top`` functions by internal time, as plain text."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    total = next((ln.strip() for ln in lines if "function calls" in ln), "")
    body = [ln.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "") for ln in lines[start:] if ln.strip()]
    return "\n".join([f"{calls} calls; {total}", *body])


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A Markdown table: ``title``, ``columns`` and ``rows`` of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self) -> str:
        head = f"| {' | '.join(self.columns)} |\n| {' | '.join('---' for _ in self.columns)} |\n"
        return f"**{self.title}**\n\n" + head + "".join(f"| {' | '.join(r)} |\n" for r in self.rows)


@dataclass
class Target:
    """A target: what is measured, the goal, the measured value (formatted), and whether it is met.

    ``met`` is None when it could not be measured (``value`` says why).
    """

    name: str
    goal: str
    value: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "missed")


@dataclass
class Report:
    """One benchmark's results: tables, targets, notes and profiles, printed as Markdown or JSON."""

    name: str
    title: str
    settings: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    date: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    data: dict[str, Any] = field(default_factory=dict)

    def table(self, title: str, columns: list[str]) -> Table:
        t = Table(title, columns)
        self.tables.append(t)
        return t

    def target(self, name: str, goal: str, value: str, met: bool | None) -> None:
        self.targets.append(Target(name, goal, value, met))

    def markdown(self, level: int = 2) -> str:
        h = "#" * level
        parts = [f"{h} {self.title}\n"]
        if self.machine:
            parts.append(f"Machine: {self.machine['description']}. {self.date}.\n")
        if self.settings:
            parts.append("Settings: " + ", ".join(f"{k} = {v}" for k, v in self.settings.items()) + ".\n")
        if self.targets:
            t = Table("Targets", ["target", "goal", "measured", "verdict"])
            t.rows = [[x.name, x.goal, x.value, x.verdict] for x in self.targets]
            parts.append(t.markdown())
        parts += [t.markdown() for t in self.tables]
        parts += [f"- {n}" for n in self.notes]
        for name, text in self.profiles.items():
            parts.append(f"\nProfile: {name}\n\n```\n{text}\n```")
        return "\n".join(parts) + "\n"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for t in out["targets"]:
            t["verdict"] = Target(**t).verdict
        return out

    def emit(self, as_json: bool) -> None:
        """Print the report on stdout: JSON with ``as_json``, else Markdown."""
        if as_json:
            print(json.dumps(self.to_json(), indent=1))
        else:
            print(self.markdown())

    @staticmethod
    def from_json(obj: dict[str, Any]) -> Report:
        r = Report(obj["name"], obj["title"])
        r.settings, r.notes, r.profiles = obj["settings"], obj["notes"], obj["profiles"]
        r.machine, r.date, r.data = obj["machine"], obj["date"], obj.get("data", {})
        r.tables = [Table(t["title"], t["columns"], t["rows"]) for t in obj["tables"]]
        r.targets = [Target(t["name"], t["goal"], t["value"], t["met"]) for t in obj["targets"]]
        return r


def parser(description: str, rounds: int) -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--json``, ``--rounds``, ``--profile``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of Markdown")
    p.add_argument("--rounds", type=int, default=rounds, help=f"timed rounds per case (default {rounds}); medians")
    p.add_argument("--profile", action="store_true", help="profile lipread's cases even when their targets are met")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="time by this process's CPU time (default; robust on a shared machine) or by wall time",
    )
    return p


def ms(seconds: float) -> str:
    """Seconds as milliseconds with three significant digits."""
    return f"{seconds * 1e3:.3g}"


def ratio(x: float) -> str:
    """A ratio as ``1.23x``."""
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def default_model(folder: Path) -> str:
    """The shipped model when installed, else the tiny test model written into ``folder``."""
    from lipread.models import DEFAULT_MODEL, get_shipped

    if get_shipped(DEFAULT_MODEL).has("onnx"):
        return DEFAULT_MODEL
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_onnx import write_tiny_model

    return str(write_tiny_model(folder / "tiny.onnx"))


def keep_frames(cap: Any) -> list[Any]:
    """Read ``cap`` (an OpenCV ``VideoCapture``) to the end, keeping every frame it returns."""
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames
