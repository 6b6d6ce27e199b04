"""The generations of one index in its folder: which one to open, making, swapping, setting
aside and cleaning them, one builder at a time.

A generation is written to a scratch folder (`building-<pid>-<ns>`) and renamed into place
(`g-<ns>`) when complete; then `current` is replaced in one rename, so a reader sees the old
index or the new one, never half of either. A kill mid-build leaves the old generation in use
(and the embeddings already made in the cache, so a rerun resumes).

Nothing here is trusted that need not be: `current` is only a hint (when it is unreadable, a
folder, or names nothing complete, the newest complete generation is used); the build lock is
taken on a descriptor opened read-only, so a lock file of mode 444 or a read-only folder does not
stop a run that only reads; a generation that fails its checks is moved to `damaged-g-*` (the
last one kept for a look) and rebuilt; generations that lost the race to `current` are removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from retrieval.files import read_regular_file
from retrieval.index.layout import META

log = logging.getLogger(__name__)

POINTER, LOCK = "current", "build.lock"
GENERATION = re.compile(r"g-\d{1,20}")
DAMAGED = "damaged-"
# Without blocking: a FIFO where the lock file should be must not hang the start.
_FLAGS = getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK


class Generations:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def lock(self) -> Iterator[bool]:
        """Held while a process syncs this index; yields whether it was taken. Without it (the
        folder cannot be made or the lock file opened) the caller may read, not write."""
        fd = None
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOCK
        try:  # read-only: flock needs no write access, and a folder can be locked too
            fd = os.open(path, os.O_RDONLY | _FLAGS)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | _FLAGS, 0o644)
        except OSError:
            pass
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                fd = None
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)

    def pointed(self) -> Path | None:
        """The generation `current` names, if it names a complete one."""
        try:
            name = read_regular_file(self.folder / POINTER, 256).decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        path = self.folder / name
        return path if GENERATION.fullmatch(name) and (path / META).is_file() else None

    def candidates(self) -> list[Path]:
        """Complete generations to try, in order: the one `current` names, then newest first."""
        try:
            found = [
                p for p in self.folder.iterdir()
                if GENERATION.fullmatch(p.name) and (p / META).is_file()
            ]  # fmt: skip
        except OSError:
            return []
        found.sort(key=lambda p: int(p.name[2:]), reverse=True)
        pointed = self.pointed()
        return [pointed, *(p for p in found if p != pointed)] if pointed else found

    def scratch(self) -> Path:
        path = self.folder / f"building-{os.getpid()}-{time.time_ns()}"
        path.mkdir(parents=True)
        return path

    def publish(self, scratch: Path) -> Path:
        """Rename a complete generation into place and make it current, in that order. A
        pointer that cannot be written is no failure: the newest generation is used anyway."""
        for f in scratch.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        final = self.folder / f"g-{time.time_ns()}"
        os.rename(scratch, final)
        self.point_to(final)
        return final

    def point_to(self, generation: Path) -> None:
        if self.pointed() == generation:
            return
        pointer = self.folder / f"{POINTER}.tmp"
        try:
            pointer.write_text(generation.name + "\n", encoding="utf-8")
            with open(pointer, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(pointer, self.folder / POINTER)
        except OSError as exc:  # harmless: the newest complete generation is used without it
            log.info("cannot update the index pointer %s (%s)", self.folder / POINTER,
                     exc.strerror or exc)  # fmt: skip
            with contextlib.suppress(OSError):
                pointer.unlink()

    def set_aside(self, generation: Path) -> None:
        """Move a damaged generation out of the way, keeping only the last one set aside."""
        with contextlib.suppress(OSError):
            for old in self.folder.glob(f"{DAMAGED}*"):
                shutil.rmtree(old, ignore_errors=True)
            os.rename(generation, self.folder / f"{DAMAGED}{generation.name}")

    def clean(self, keep: Path) -> None:
        """Generations other than `keep`, and scratch folders of dead builds. A process that
        still has an old one open keeps reading it: its files live until it closes them."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return
        for path in entries:
            if path == keep or not path.is_dir() or path.is_symlink():
                continue
            if path.name.startswith("building-") and _alive(path.name.split("-")[1]):
                continue
            if GENERATION.fullmatch(path.name) or path.name.startswith("building-"):
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


__all__ = ["Generations"]
