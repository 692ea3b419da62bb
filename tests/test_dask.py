"""Transcription on a Dask cluster (:mod:`lipread.transcription.distributed`, the ``dask`` extra): a local
cluster of two worker processes gives the transcripts ``lipread.transcribe`` gives, in input order, with each
unreadable video reported in its place, and each worker loads the model once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lipread.errors import ArgumentError
from lipread.transcription.distributed import transcribe_dask

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a")


def _runners() -> int:
    """Run on a worker: how many transcribers (loaded models) its process holds."""
    from lipread.transcription import distributed

    return len(distributed._RUNNERS)


def test_import_lipread_leaves_dask_out() -> None:
    code = "import sys, lipread.transcription.distributed; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bad_settings_are_refused_before_any_work() -> None:
    with pytest.raises(ArgumentError, match="partition_size"):
        transcribe_dask(["a.mp4"], partition_size=0)
    with pytest.raises(ArgumentError, match="model must be"):
        transcribe_dask(["a.mp4"], model=object())  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"paths is a list of videos, not one path: give \['a.mp4'\]"):
        transcribe_dask("a.mp4")


def test_a_partition_takes_a_word_list_file_and_one_path_is_refused(grid_root: Path, tmp_path: Path) -> None:
    """What a worker runs, on this process: a lexicon Path is read as lipread.transcribe reads it."""
    pytest.importorskip("onnxruntime")
    import lipread
    from lipread.errors import DecodingError
    from lipread.transcription.distributed import transcribe_partition

    clip = str(grid_root / "s1" / "bbaf2n.mp4")
    words = tmp_path / "words.txt"
    words.write_text("bin\nblue\nat\nf\ntwo\nnow\nplace\n", encoding="utf-8")
    [got] = transcribe_partition([clip], decoder="lexicon", lexicon=words, workers=1, threads=1)
    assert got["text"] == lipread.transcribe(clip, decoder="lexicon", lexicon=words).text
    with pytest.raises(DecodingError, match="the lexicon is a list of words, not one string"):
        transcribe_partition([clip], decoder="lexicon", lexicon="bin blue", workers=1, threads=1)
    with pytest.raises(ArgumentError, match="paths is a list of videos, not one path"):
        transcribe_partition(clip)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    pytest.importorskip("distributed")
    pytest.importorskip("onnxruntime")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def clips(grid_root: Path) -> list[str]:
    return [str(grid_root / "s1" / f"{name}.mp4") for name in CLIPS]


def test_a_two_worker_cluster_transcribes_as_lipread_does(client: Any, clips: list[str], tmp_path: Path) -> None:
    import dask.bag as db

    import lipread

    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    missing = tmp_path / "missing.mp4"
    paths = [clips[0], str(broken), *clips[1:3], str(missing), clips[3]]
    # Two paths per task: three tasks on two workers, the bad files in tasks with good ones.
    results = transcribe_dask(paths, client=client, partition_size=2, workers=1, threads=1)
    expected = [t.to_dict() for t in lipread.transcribe(clips, workers=1, threads=1)]
    assert [r["path"] for r in results] == paths
    assert [r for r in results if "error" not in r] == expected
    said = ["bin", "blue", "at", "f", "two", "now"]  # a real reading: the sentence, but for a word it may miss
    read = expected[0]["text"].split()
    assert len(read) == len(said) and sum(a != b for a, b in zip(read, said)) <= 1, read
    bad = {r["path"]: r["error"] for r in results if "error" in r}
    assert list(bad) == [str(broken), str(missing)]
    assert bad[str(broken)].startswith(f"{broken}: ") and "cannot decode" in bad[str(broken)]
    assert bad[str(missing)] == f"{missing}: video file not found"
    # At least one worker ran two tasks; none made a second transcriber (loaded the model again).
    assert set(client.run(_runners).values()) <= {0, 1}

    # A bag keeps its own partitions, and the workers keep their models across calls.
    again = transcribe_dask(db.from_sequence(clips, npartitions=4), client=client, workers=1, threads=1)
    assert again == expected
    assert set(client.run(_runners).values()) == {1}


def test_the_example_writes_json_lines_in_order(grid_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    pytest.importorskip("onnxruntime")
    import lipread

    folder = tmp_path / "videos"
    (folder / "more").mkdir(parents=True)
    names = ("bbaf2n", "bbaf3s")
    for i, name in enumerate(names):
        shutil.copy(grid_root / "s1" / f"{name}.mp4", folder / ("more" if i else "") / f"{name}.mp4")
    (folder / "broken.mp4").write_text("not a video")
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_transcribe.py"), folder, "-o", out, "--n-workers", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 1, proc.stderr  # the broken file is reported, the others transcribed
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first, broken, second = (str(folder / p) for p in ("bbaf2n.mp4", "broken.mp4", "more/bbaf3s.mp4"))
    assert [r["path"] for r in lines] == [first, broken, second]
    assert f"lipread: error: {broken}: " in proc.stderr and "clips/s" in proc.stderr
    assert [lines[0], lines[2]] == [t.to_dict() for t in lipread.transcribe([first, second], workers=1, threads=1)]
