"""Cold start of ``lipread transcribe`` on one clip: a fresh process's wall time and peak memory, and proof that
it imports neither PyTorch nor TensorFlow.

The model is the default one (the shipped ``lipnet-grid-s1.onnx``) when this checkout has it; otherwise a
random-initialised ``lipnet`` checkpoint exported to ONNX in a temporary folder stands in (same network, same
size, so the same cost; the sentence it prints is meaningless). Each run is a new Python process running
``lipread transcribe CLIP`` through a small wrapper that reports, at exit, which framework modules were
imported. Wall time is measured around the process; peak resident memory is the child's own ``ru_maxrss``
(``os.wait4``). For scale, the same is measured for a bare interpreter (``python -c pass``) and for
``import lipread``. The targets are for the default install, without the ``fast`` extra (``LIPREAD_NUMBA=0``
stands in for it); where numba is installed, ``lipread transcribe`` with the compiled beam search is measured too.

Targets: <= 1.5 s and <= 500 MB, with neither ``torch`` nor ``tensorflow`` imported.

Usage::

    python benchmarks/cold_start.py [--rounds 5] [--json] [--profile]
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from common import CLIP, ROOT, Report, median

SHIPPED_ONNX = ROOT / "lipread" / "models" / "lipnet-grid-s1.onnx"
WALL_TARGET = 1.5
RSS_TARGET_MB = 500
FRAMEWORKS = ("torch", "tensorflow", "keras", "jax")
FAST = "lipread transcribe CLIP, fast extra (numba) installed"

PEAK = """
import atexit, sys
def _peak():
    with open('/proc/self/status') as f:
        sys.stderr.write('PEAK_KB ' + next(l.split()[1] for l in f if l.startswith('VmHWM')) + '\\n')
atexit.register(_peak)
"""
"""Prelude of every command: the process reports its peak resident memory at exit (VmHWM, its own address
space: a child's ``ru_maxrss`` would also count the memory of the parent it was forked from)."""

TRANSCRIBE = """
import json, runpy
def _report():
    found = sorted({m.split('.')[0] for m in sys.modules} & set(%r))
    sys.stderr.write('FRAMEWORKS ' + json.dumps(found) + '\\n')
atexit.register(_report)
sys.argv = ['lipread', *%r]
runpy.run_module('lipread', run_name='__main__', alter_sys=True)
"""

EXPORT_RANDOM = """
import sys
from lipread.backend import get_backend
from lipread.config import get_preset
b = get_backend('torch')
b.export_onnx(b.build(get_preset('lipnet'), seed=0), sys.argv[1])
"""


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``python args...`` to completion: wall seconds, peak RSS (MB, as the child reports it), status, output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        child.wait()
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak = [int(ln.split()[1]) for ln in stderr.splitlines() if ln.startswith("PEAK_KB ")]
    rss = peak[-1] / 1024 if peak else float("nan")
    return {"wall": wall, "rss_mb": rss, "code": child.returncode, "out": stdout, "err": stderr}


def importtime(args: list[str], env: dict[str, str], top: int = 12) -> str:
    """``-X importtime`` of one run: the top-level packages by cumulative import time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if not parts[0].isdigit():
            continue
        name = parts[2]
        if not name.startswith(" ") and "." not in name.strip():
            rows.append((int(parts[1]), name.strip()))
    rows.sort(reverse=True)
    return "\n".join(f"{us / 1e3:8.1f} ms  {name}" for us, name in rows[:top])


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], rounds=5)
    args = p.parse_args()
    common.need_data()
    report = Report("cold_start", "Cold start of `lipread transcribe` on one clip")
    report.machine = common.machine()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        if SHIPPED_ONNX.is_file():
            model_args: list[str] = []
            model = f"the default model ({SHIPPED_ONNX.name})"
        else:
            common.log("no shipped model: exporting a random-initialised lipnet ...")
            onnx_path = Path(tmp) / "lipnet-random.onnx"
            subprocess.run([sys.executable, "-c", EXPORT_RANDOM, str(onnx_path)], cwd=ROOT, env=env, check=True)
            model_args = ["--model", str(onnx_path)]
            model = "a random-initialised lipnet exported to ONNX (no shipped model in this checkout)"
        transcribe = ["transcribe", str(CLIP), *model_args]
        default = {**env, "LIPREAD_NUMBA": "0"}  # as installed without the fast extra
        cases = {
            "python -c pass": (["-c", PEAK], default),
            "python -c 'import lipread'": (["-c", PEAK + "import lipread"], default),
            "lipread transcribe CLIP": (["-c", PEAK + TRANSCRIBE % (FRAMEWORKS, transcribe)], default),
        }
        if importlib.util.find_spec("numba") is not None:
            cases[FAST] = (["-c", PEAK + TRANSCRIBE % (FRAMEWORKS, transcribe)], env)
        report.settings = {
            "clip": CLIP.name,
            "model": model,
            "runs": args.rounds,
            "clock": "wall time, medians",
            "memory": "peak resident set (VmHWM), largest of the runs",
        }
        common.log(f"{len(cases)} commands x {args.rounds} fresh processes ...")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (cmd, case_env) in cases.items():
                runs[name].append(run_child(cmd, case_env))
        last = runs["lipread transcribe CLIP"][-1]
        if last["code"] != 0:
            raise SystemExit(f"lipread transcribe failed:\n{last['err']}")
        imported = json.loads(next(ln for ln in last["err"].splitlines() if ln.startswith("FRAMEWORKS "))[11:])
        table = report.table(
            "Fresh process, median of the runs", ["command", "wall s", "wall s (min-max)", "peak RSS MB"]
        )
        for name, rs in runs.items():
            walls = [r["wall"] for r in rs]
            table.rows.append(
                [
                    name,
                    f"{median(walls):.2f}",
                    f"{min(walls):.2f}-{max(walls):.2f}",
                    f"{median([r['rss_mb'] for r in rs]):.0f}",
                ]
            )
        wall = median([r["wall"] for r in runs["lipread transcribe CLIP"]])
        rss = max(r["rss_mb"] for r in runs["lipread transcribe CLIP"])
        bare = median([r["wall"] for r in runs["python -c pass"]])
        report.target(
            "wall time",
            f"<= {WALL_TARGET} s",
            f"{wall:.2f} s ({wall / bare:.0f}x a bare interpreter)",
            wall <= WALL_TARGET,
        )
        report.target("peak RSS (largest of the runs)", f"<= {RSS_TARGET_MB} MB", f"{rss:.0f} MB", rss <= RSS_TARGET_MB)
        report.target(
            "frameworks imported",
            "neither torch nor tensorflow",
            ", ".join(imported) if imported else f"none of {', '.join(FRAMEWORKS)}",
            not ({"torch", "tensorflow"} & set(imported)),
        )
        report.notes.append(f"It printed: {last['out'].strip()!r}.")
        if FAST in runs:
            fast = runs[FAST]
            report.notes.append(
                f"With the fast extra installed, `lipread transcribe` loads numba and the compiled beam search: "
                f"{median([r['wall'] for r in fast]):.2f} s and {max(r['rss_mb'] for r in fast):.0f} MB (numba's "
                "import and the cached compiled code), for a search that takes about a millisecond either way on "
                "one clip: the extra pays off when one process decodes many clips or uses wide beams."
            )
        report.data = {"runs": {k: [{x: r[x] for x in ("wall", "rss_mb")} for r in v] for k, v in runs.items()}}
        if args.profile or wall > WALL_TARGET:
            report.profiles["imports of `lipread transcribe` (-X importtime, cumulative, top-level packages)"] = (
                importtime(["-m", "lipread", *transcribe], env)
            )
    report.emit(args.json)


if __name__ == "__main__":
    main()
