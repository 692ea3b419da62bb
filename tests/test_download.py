"""``lipread data grid``: downloads from a local HTTP server (tests/archive_server.py) serving small archives made
here, so nothing is fetched from the internet: a full download into the layout ``lipread train`` reads, a
transfer cut off and resumed with a ``Range`` request, checksum and size mismatches, a damaged archive, and a
404, a 500 or a refused connection, each reported in one line."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
from pathlib import Path

import pytest
from archive_server import Archives, make_zip, serve
from hypothesis import given
from hypothesis import strategies as st

from lipread.cli import main
from lipread.data.dataset import find_clips
from lipread.data.download import Expected, fetch, read_checksums
from lipread.data.grid_download import _ranges, archives, parse_speakers
from lipread.errors import ArgumentError, DataError

ALIGN = {
    "bbaf2n": "0 23750 sil\n23750 29500 bin\n29500 34000 blue\n34000 35500 at\n35500 41000 f\n"
    "41000 47250 two\n47250 53000 now\n53000 74500 sil\n",
    "lgbs5a": "0 20000 sil\n20000 25000 lay\n25000 30000 green\n30000 33000 by\n33000 38000 s\n"
    "38000 44000 five\n44000 50000 again\n50000 75000 sil\n",
}
"""Two speaker-1 alignments (GRID units); the sentence is spelled by the name."""


def video(name: str) -> bytes:
    """Stand-in bytes for a clip (the download never decodes them), different for each name."""
    return (name.encode() + b"\x00\xba") * 400


def grid_files(speakers: tuple[int, ...] = (1, 2)) -> dict[str, bytes]:
    """Zenodo's layout in miniature: ``s<N>.zip`` with ``s<N>/<name>.mpg``, and one ``alignments.zip``."""
    files = {
        f"s{n}.zip": make_zip({f"s{n}/{name}.mpg": video(f"{n}{name}") for name in ALIGN} | {f"s{n}/README": b"x"})
        for n in speakers
    }
    files["alignments.zip"] = make_zip(
        {f"alignments/s{n}/{name}.align": text.encode() for n in speakers for name, text in ALIGN.items()}
    )
    return files


def run_cli(dest: Path, url: str, *extra: str) -> int:
    return main(["data", "grid", "--dest", str(dest), "--mirror", url, "--no-progress", *extra])


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


def test_full_download_gives_the_layout_train_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(Archives(files=grid_files())) as server:
        assert run_cli(tmp_path, server.url, "--speakers", "1") == 0
        clips = find_clips(tmp_path)
        assert [(c.video.name, c.speaker, c.text) for c in clips] == [
            ("bbaf2n.mpg", 1, "bin blue at f two now"),
            ("lgbs5a.mpg", 1, "lay green by s five again"),
        ]
        assert (tmp_path / "s1" / "bbaf2n.mpg").read_bytes() == video("1bbaf2n")
        assert not (tmp_path / "s2").exists() and not (tmp_path / "alignments" / "s2").exists()
        assert not (tmp_path / "s1" / "README").exists()
        assert sorted(p.name for p in (tmp_path / ".downloads").iterdir()) == [
            "alignments.zip.unpacked",
            "s1.zip.unpacked",
        ]  # archives deleted once unpacked
        out = capsys.readouterr().out
        assert f"{tmp_path}: 2 clips and 2 alignments of s1" in out
        asked = len(server.requests)
        assert run_cli(tmp_path, server.url, "--speakers", "1") == 0
        assert len(server.requests) == asked  # done: nothing fetched again
        # a later speaker: its video, and the shared alignments again for its files
        assert run_cli(tmp_path, server.url, "--speakers", "1-2", "--keep-archives") == 0
        assert [p for p, _ in server.requests[asked:]] == ["s2.zip", "alignments.zip"]
        assert len(find_clips(tmp_path)) == 4
        assert (tmp_path / ".downloads" / "s2.zip").read_bytes() == server.files["s2.zip"]


def test_a_cut_transfer_resumes_with_a_range_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = grid_files((1,))
    size = len(files["s1.zip"])
    with serve(Archives(files=files, cut={"s1.zip": 300})) as server:
        assert run_cli(tmp_path, server.url, "--retries", "0") == 1
        lines = error_lines(capsys)
        assert lines == [
            f"lipread: error: {server.url}/s1.zip: connection lost after 300 of {size} bytes "
            "(the server closed the connection); run the command again to resume"
        ]
        part = tmp_path / ".downloads" / "s1.zip.part"
        assert part.read_bytes() == files["s1.zip"][:300]
        assert run_cli(tmp_path, server.url) == 0
        assert ("s1.zip", "bytes=300-") in server.requests
        assert [r for p, r in server.requests if p == "s1.zip"] == [None, "bytes=300-"]
        assert not part.exists()
        assert len(find_clips(tmp_path)) == 2


def test_a_cut_transfer_is_retried_within_one_run(tmp_path: Path) -> None:
    with serve(Archives(files=grid_files((1,)), cut={"s1.zip": 1000})) as server:
        assert run_cli(tmp_path, server.url) == 0
        assert [r for p, r in server.requests if p == "s1.zip"] == [None, "bytes=1000-"]
        assert (tmp_path / "s1" / "lgbs5a.mpg").read_bytes() == video("1lgbs5a")


def test_a_server_that_ignores_ranges_is_read_from_the_start(tmp_path: Path) -> None:
    body = bytes(range(256)) * 50
    part = tmp_path / "file.bin.part"
    part.write_bytes(body[:1234])
    with serve(Archives(files={"file.bin": body}, ignore_ranges=True)) as server:
        out = fetch(f"{server.url}/file.bin", tmp_path / "file.bin", progress=False)
        assert server.requests == [("file.bin", "bytes=1234-")]
    assert out.read_bytes() == body and not part.exists()


def test_a_complete_part_file_is_finished_without_a_transfer(tmp_path: Path) -> None:
    body = b"abc" * 1000
    (tmp_path / "f.part").write_bytes(body)
    with serve(Archives(files={"f": body})) as server:
        fetch(f"{server.url}/f", tmp_path / "f", Expected(size=len(body)), progress=False)
    assert (tmp_path / "f").read_bytes() == body


def test_checksums(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = grid_files((1,))
    good = hashlib.sha256(files["s1.zip"]).hexdigest()
    sums = tmp_path / "sums.txt"
    sums.write_text(f"# GRID\n{'0' * 64}  s1.zip\n", encoding="utf-8")
    dest = tmp_path / "data"
    with serve(Archives(files=files)) as server:
        assert run_cli(dest, server.url, "--checksums", str(sums)) == 1
        assert error_lines(capsys) == [
            f"lipread: error: {server.url}/s1.zip: SHA-256 mismatch (expected {'0' * 64}, received {good}); "
            "the file was deleted: run again, or check the mirror"
        ]
        assert not list((dest / ".downloads").iterdir()) and not (dest / "s1").exists()
        sums.write_text(f"{good} *some/folder/s1.zip\n", encoding="utf-8")
        assert read_checksums(sums) == {"s1.zip": Expected(sha256=good)}
        assert run_cli(dest, server.url, "--checksums", str(sums)) == 0
    assert len(find_clips(dest)) == 2


def test_a_size_other_than_the_published_one_is_refused(tmp_path: Path) -> None:
    with serve(Archives(files={"f": b"x" * 100})) as server, pytest.raises(DataError, match="offers 100 bytes"):
        fetch(f"{server.url}/f", tmp_path / "f", Expected(size=99), progress=False)
    assert not (tmp_path / "f").exists()


def test_a_bad_checksum_file_is_one_line(tmp_path: Path) -> None:
    sums = tmp_path / "sums.txt"
    sums.write_text("abc s1.zip\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sums.txt:1: expected '<64 hex digits"):
        read_checksums(sums)


@pytest.mark.parametrize(("status", "said"), [(404, "404 Not Found"), (500, "500 Internal Server Error")])
def test_a_server_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, said: str) -> None:
    with serve(Archives(files=grid_files((1,)), status={"s1.zip": status})) as server:
        assert run_cli(tmp_path, server.url) == 1
        assert error_lines(capsys) == [f"lipread: error: {server.url}/s1.zip: the server answered {said}"]


def test_a_missing_file_on_the_mirror_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(Archives(files={})) as server:
        assert run_cli(tmp_path, server.url, "--speakers", "3") == 1
        assert error_lines(capsys) == [f"lipread: error: {server.url}/s3.zip: the server answered 404 Not Found"]


def test_a_refused_connection_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run_cli(tmp_path, f"http://127.0.0.1:{port}/grid/") == 1
    assert error_lines(capsys) == [
        f"lipread: error: http://127.0.0.1:{port}/grid/s1.zip: cannot connect: connection refused"
    ]


def test_a_damaged_archive_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = grid_files((1,))
    damaged = bytearray(files["s1.zip"])
    at = damaged.index(video("1bbaf2n")[:20]) + 10  # inside a stored member: its CRC-32 no longer matches
    damaged[at] ^= 0xFF
    files["s1.zip"] = bytes(damaged)
    with serve(Archives(files=files)) as server:
        assert run_cli(tmp_path, server.url) == 1
    (line,) = error_lines(capsys)
    assert line.startswith(f"lipread: error: {tmp_path / '.downloads' / 's1.zip'}: damaged archive (")
    assert not (tmp_path / ".downloads" / "s1.zip.unpacked").exists()


def tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_sheffield_high_quality_layout(tmp_path: Path) -> None:
    """The corpus page's archives: the high-quality video in two tar parts, the alignments in a tar per speaker,
    and a member whose path climbs out of the archive, which lands inside the layout by its name alone."""
    files = {
        "s4/video/s4.mpg_6000.part1.tar": tar({"s4/video/mpg_6000/bbaf2n.mpg": video("a")}),
        "s4/video/s4.mpg_6000.part2.tar": tar({"../../lgbs5a.mpg": video("b")}),
        "s4/align/s4.tar": tar({f"align/{name}.align": text.encode() for name, text in ALIGN.items()}),
    }
    dest = tmp_path / "data"
    with serve(Archives(files=files)) as server:
        assert run_cli(dest, server.url, "--source", "sheffield", "--quality", "high", "--speakers", "4") == 0
        assert sorted(p for p, _ in server.requests) == sorted(files)
    assert [(c.video.name, c.speaker) for c in find_clips(dest)] == [("bbaf2n.mpg", 4), ("lgbs5a.mpg", 4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_published_paths() -> None:
    assert [a.path for a in archives("zenodo", "normal", (1, 21))] == ["s1.zip", "alignments.zip"]
    assert [a.path for a in archives("sheffield", "normal", (2,))] == ["s2/video/s2.mpg_vcd.zip", "s2/align/s2.tar"]
    assert archives("zenodo", "normal", (21,)) == []
    with pytest.raises(ArgumentError, match="zenodo publishes no high-quality video; use --source sheffield"):
        archives("zenodo", "high", (1,))


def test_speaker_21_is_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(Archives(files=grid_files((20, 22)))) as server:
        assert run_cli(tmp_path, server.url, "--speakers", "20-22") == 0
    assert "lipread: warning: --speakers: GRID published no video of speaker 21; skipped" in capsys.readouterr().err
    assert sorted({c.speaker for c in find_clips(tmp_path)}) == [20, 22]


def test_speaker_21_alone_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(Archives(files=grid_files((20,)))) as server:
        assert run_cli(tmp_path, server.url, "--speakers", "21") == 1
    assert capsys.readouterr().err == (
        "lipread: error: --speakers: GRID published no video of speaker 21, and no other speaker is asked for\n"
    )


def test_bad_speakers_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["data", "grid", "--dest", str(tmp_path), "--speakers", "35"])
    assert stop.value.code == 2
    assert error_lines(capsys)[-1] == "lipread: error: argument --speakers: GRID has speakers 1 to 34, not 35"
    for text in ("3-1", "one", "1-", ""):
        with pytest.raises(ArgumentError):
            parse_speakers(text)


@given(st.sets(st.integers(1, 34), min_size=1))
def test_speaker_lists_round_trip(speakers: set[int]) -> None:
    assert parse_speakers(_ranges(sorted(speakers))) == tuple(sorted(speakers))
    assert parse_speakers(",".join(f"s{n}" for n in speakers)) == tuple(sorted(speakers))


def test_a_progress_bar_is_drawn_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--progress`` draws a byte-counting bar per archive on stderr (by default only on a terminal)."""
    with serve(Archives(files=grid_files((1,)))) as server:
        assert main(["data", "grid", "--dest", str(tmp_path), "--mirror", server.url, "--progress"]) == 0
        size = len(server.files["s1.zip"])
    err = capsys.readouterr().err
    assert "s1.zip: 100%" in err and "alignments.zip: 100%" in err
    assert f"{size / 1024:.2f}k/{size / 1024:.2f}k" in err
    with serve(Archives(files=grid_files((1,)))) as server:
        assert run_cli(tmp_path / "quiet", server.url) == 0
    assert capsys.readouterr().err == ""


def test_a_whole_part_file_of_unknown_size_is_kept(tmp_path: Path) -> None:
    """A run stopped after the last byte but before the rename: the server's 416 says the part file is whole."""
    body = b"xyz" * 500
    (tmp_path / "f.part").write_bytes(body)
    with serve(Archives(files={"f": body})) as server:
        fetch(f"{server.url}/f", tmp_path / "f", progress=False)
        assert server.requests == [("f", f"bytes={len(body)}-")]
    assert (tmp_path / "f").read_bytes() == body
