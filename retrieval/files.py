"""Reading the files a user points the bot at (seed files, the config file) without surprises."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class FileLimitError(OSError):
    """A file that is not a regular file, or larger than the limit; str() says which."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most limit bytes.

    Opened without blocking, so a FIFO cannot hang start-up waiting for a writer, then checked
    to be a regular file (a folder, FIFO, socket or device such as /dev/zero is refused, also
    behind a symbolic link), and read no further than the limit. Seed files and the config
    file are read this way.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileLimitError(errno.EINVAL, f"not a regular file ({_file_kind(mode)})")
        chunks, size = [], 0
        while size <= limit:  # bounded: stops one byte past the limit, or at the end
            chunk = os.read(fd, min(limit + 1 - size, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileLimitError(errno.EFBIG, f"larger than the limit of {_size(limit)}")
    return data


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count % (1024 * 1024) == 0 else f"{count:,} bytes"


def os_problem(exc: BaseException) -> str:
    """An OS error in plain words, without the path (the message names it already)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__
