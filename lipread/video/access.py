"""Why a file or folder cannot be read, in words: the true reason (permission denied, a symbolic link loop, a
broken link, a file in the path) rather than "not found" or "cannot decode" for all of them."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import VideoError

__all__ = ["check_readable", "opencv_name", "path_problem", "usable_path"]


def path_problem(path: Path, error: OSError, what: str) -> str:
    """``<path>: <why it cannot be reached>`` for the ``OSError`` that ``os.stat`` or ``open`` raised on it.

    ``what`` names the thing in the message (``"video file"``, ``"frame folder"``).
    """
    code = error.errno
    if code == errno.ELOOP:
        return f"{path}: is a symbolic link loop (too many levels of symbolic links), not a {what}"
    if code == errno.ENOENT and os.path.islink(path):
        return f"{path}: is a broken symbolic link (its target {os.readlink(path)} does not exist)"
    if code == errno.ENOENT and os.fspath(path) == "-":  # the usual name of standard input
        return f"{path}: {what} not found (lipread reads files, not standard input: give the video's path)"
    if code == errno.ENOENT:
        return f"{path}: {what} not found"
    if code == errno.ENOTDIR:
        return f"{path}: {what} not found (a part of the path is a file, not a folder)"
    if code in (errno.EACCES, errno.EPERM):
        return f"{path}: cannot read the {what}: permission denied"
    if code == errno.ENAMETOOLONG:
        return f"{path}: the {what}'s name is too long for this file system"
    return f"{path}: cannot read the {what}: {error.strerror or error}"


def usable_path(path: str | bytes | os.PathLike[str] | os.PathLike[bytes], what: str = "video file") -> str:
    """``path`` as text, once it can name a file at all (whether there is one is for the reader to find).

    Raises:
        VideoError: it is empty (which would name the current folder), holds a NUL byte (no file name can: a
            file's contents given where its name belongs, say), or is too long for this file system.
    """
    name = os.fspath(path)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    if not name:
        raise VideoError(f"an empty path: give a {what} or a frame folder")
    if "\x00" in name:
        shown = repr(name[:40]) + ("..." if len(name) > 40 else "")
        raise VideoError(
            f"{shown}: not a path (no file name holds a NUL byte); give the {what}'s path, not its contents, "
            "or its frames as an array"
        )
    try:
        os.stat(name)
    except OSError as e:  # only a name too long is told here; a missing file is the reader's to say
        if e.errno == errno.ENAMETOOLONG:
            raise VideoError(path_problem(Path(name), e, what)) from None
    return name


def check_readable(path: Path, what: str = "video file") -> os.stat_result:
    """The ``stat`` of a regular file that can be opened for reading.

    One byte is read, so a file without read permission is found here, and not later by a decoder that
    calls every failure "cannot decode". A device, pipe or socket is refused before it is opened, since
    reading one may never end.

    Raises:
        VideoError: the path does not exist, loops, is a folder or not a regular file, or cannot be read;
            the message says which.
    """
    try:
        info = os.stat(path)
    except OSError as e:
        raise VideoError(path_problem(path, e, what)) from None
    if stat.S_ISDIR(info.st_mode):
        raise VideoError(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise VideoError(f"{path}: is not a regular file (a device, pipe or socket), not a {what}")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise VideoError(path_problem(path, e, what)) from None
    return info


def opencv_name(name: str | os.PathLike[str]) -> str:
    """``name`` as OpenCV's decoders take it: text that is valid UTF-8.

    A file name of other bytes (Python holds them as lone surrogates) crashes the process inside OpenCV, with
    no error to catch, so it is refused here.

    Raises:
        VideoError: the name is not valid UTF-8.
    """
    text = os.fspath(name)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise VideoError(f"{text}: the name is not valid UTF-8, which OpenCV cannot open; rename it") from None
    return text
