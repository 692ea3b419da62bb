"""Fetch a file over HTTP(S) with the standard library: resumable, verified, with a progress bar.

:func:`fetch` downloads ``url`` into ``dest``. The bytes go to ``dest`` + ``.part`` first, so an interrupted
transfer (a lost connection, Ctrl-C, a killed process) leaves a partial file that the next call continues with
an HTTP ``Range`` request instead of starting again; a server that ignores ranges (it answers 200 rather than
206) is read from the start. Only a complete, verified file is renamed to ``dest``.

A file is verified against what is known of it (:class:`Expected`): its size in bytes (from a shipped table,
else the server's ``Content-Length``) and, where known, its SHA-256. Every failure is a
:class:`~lipread.errors.DataError` of one line that names the URL or file and what went wrong (the server's
status, a refused connection, a connection lost after so many bytes, a size or checksum that differs).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..progress import progress_bar

__all__ = ["CHUNK", "Expected", "fetch", "read_checksums", "sha256_of"]

CHUNK = 1 << 16
"""Bytes read from the connection (and hashed) at a time: 64 KiB."""

TIMEOUT_S = 60.0
"""Seconds a connection may stay silent before the transfer counts as lost (and is retried or resumed)."""

USER_AGENT = "lipread"
"""Sent with every request: some servers refuse the default ``Python-urllib`` agent."""


class _ConnectionLost(DataError):
    """A transfer cut off before its end: worth resuming, unlike a refused request or a bad file."""


@dataclass(frozen=True)
class Expected:
    """What is known of a published file before it is downloaded; None: not known.

    Attributes:
        size: its length in bytes.
        sha256: its SHA-256 as 64 lower-case hex digits.
    """

    size: int | None = None
    sha256: str | None = None


_SHA_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S.*)$")


def read_checksums(path: Path) -> dict[str, Expected]:
    """The SHA-256 of files, by file name, from a ``sha256sum``-style file (``<64 hex digits>  <name>`` per line;
    blank lines and lines starting with ``#`` are skipped; a name's folders are ignored).

    Raises:
        DataError: the file cannot be read, or a line is not in that form.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the checksums: {getattr(e, 'strerror', None) or e}") from None
    table: dict[str, Expected] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SHA_LINE.match(line.strip())
        if not match:
            raise DataError(f"{path}:{lineno}: expected '<64 hex digits of SHA-256>  <file name>'")
        table[Path(match.group(2).strip()).name] = Expected(sha256=match.group(1).lower())
    return table


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as 64 lower-case hex digits (read in :data:`CHUNK` pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _describe(e: BaseException) -> str:
    """A short reason for a failed request: ``404 Not Found``, ``connection refused``, ``timed out``."""
    if isinstance(e, urllib.error.HTTPError):
        return f"the server answered {e.code} {e.reason}".rstrip()
    if isinstance(e, http.client.HTTPException):  # IncompleteRead and kin: the server stopped sending
        return "the server closed the connection"
    reason: Any = e.reason if isinstance(e, urllib.error.URLError) else e
    if isinstance(reason, socket.timeout | TimeoutError):
        return f"no answer within {TIMEOUT_S:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"unknown host ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower() if reason.strerror[:1].isupper() else reason.strerror
    return str(reason) or type(reason).__name__


def _open(url: str, start: int, timeout: float) -> Any:
    """The server's response to ``GET url``, asking for the bytes from ``start`` on when ``start`` > 0."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=timeout)  # fetch checked the scheme


def _total(response: Any, start: int) -> int | None:
    """The full size of the file from a response's headers (``Content-Range`` of a 206, else
    ``Content-Length`` plus what the request skipped); None: the server did not say."""
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes \d+-\d+/(\d+)", content_range)
    if match:
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return int(length) + start if length and length.isdigit() else None


def _transfer(url: str, part: Path, expected: Expected, progress: bool | None, timeout: float) -> int:
    """Append the rest of ``url`` to ``part``; returns the full size the server announced (or the bytes held).

    Raises:
        DataError: the request failed, or the connection was lost before the announced end.
    """
    start = part.stat().st_size if part.exists() else 0
    if expected.size is not None and start > expected.size:
        part.unlink()  # longer than the published file: not a prefix of it, so start again
        start = 0
    try:
        response = _open(url, start, timeout)
    except urllib.error.HTTPError as e:
        whole = re.fullmatch(r"bytes \*/(\d+)", e.headers.get("Content-Range", "") if e.headers else "")
        if e.code == 416 and start and start in (expected.size, int(whole.group(1)) if whole else None):
            return start  # the part file already holds the whole file (a run stopped before renaming it)
        if e.code == 416 and start:
            part.unlink()  # the server has no bytes past ours: the part file is not of this file
        raise DataError(f"{url}: {_describe(e)}") from None
    except (urllib.error.URLError, OSError) as e:
        raise DataError(f"{url}: cannot connect: {_describe(e)}") from None
    with response:
        if start and response.status != 206:
            start = 0  # the server ignores ranges and sends the whole file: begin the part file anew
        total = _total(response, start)
        if expected.size is not None and total is not None and total != expected.size:
            raise DataError(f"{url}: the server offers {total} bytes, but the published file has {expected.size}")
        size = expected.size if expected.size is not None else total
        done = start
        bar = progress_bar(
            total=size, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=part.stem, progress=progress
        )
        with bar, open(part, "ab" if start else "wb") as out:
            while True:
                try:
                    block = response.read(CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as e:  # reset, timed out, IncompleteRead
                    raise _ConnectionLost(
                        f"{url}: connection lost after {done} of {size if size is not None else '?'} bytes "
                        f"({_describe(e)}); run the command again to resume"
                    ) from None
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as e:  # a full disk: the bytes so far stay, for a run with room to resume
                    raise DataError(f"{part}: cannot write: {e.strerror or e}") from None
                done += len(block)
                bar.update(len(block))
    if size is not None and done < size:
        raise _ConnectionLost(
            f"{url}: connection lost after {done} of {size} bytes (the server closed the connection); "
            "run the command again to resume"
        )
    return size if size is not None else done


def fetch(
    url: str,
    dest: Path,
    expected: Expected | None = None,
    *,
    retries: int = 2,
    progress: bool | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.part`` left by an interrupted run; returns ``dest``.

    An existing ``dest`` is taken as done (it was verified when it was written). A transfer that is cut off is
    resumed up to ``retries`` times within the call; a file that fails verification is deleted, so the next
    call downloads it again.

    Args:
        url: an ``http://`` or ``https://`` address.
        dest: the file to write (its folder is created).
        expected: the published size and SHA-256, where known (None: nothing known beyond what the server says).
        retries: further attempts after a lost connection (0: one attempt).
        progress: a progress bar on stderr: True, False or None (only on a terminal).
        timeout: seconds the connection may stay silent.

    Raises:
        DataError: a bad URL, a refused connection, a server error (404, 500, ...), a connection lost more than
            ``retries`` times, a size or SHA-256 other than the expected one. The message names the URL.
    """
    if not url.startswith(("http://", "https://")):
        raise DataError(f"{url}: not an http:// or https:// address")
    expected = expected or Expected()
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            size = _transfer(url, part, expected, progress, timeout)
            break
        except _ConnectionLost:
            if attempt == retries:
                raise
    held = part.stat().st_size
    if held != size:
        part.unlink()
        raise DataError(f"{url}: received {held} bytes, expected {size}; the partial file was deleted, run again")
    if expected.sha256 is not None:
        actual = sha256_of(part)
        if actual != expected.sha256.lower():
            part.unlink()
            raise DataError(
                f"{url}: SHA-256 mismatch (expected {expected.sha256.lower()}, received {actual}); "
                "the file was deleted: run again, or check the mirror"
            )
    os.replace(part, dest)
    return dest
