"""Index folders other configurations left: which are in use, and removing the rest safely.

An index root holds one folder per index key (seeds folder, model, passage settings, version).
A process that reads one holds a shared flock on its `in-use.lock` for as long as it runs
(hold()); a build holds an exclusive flock on its `build.lock` (retrieval.index.local). prune()
takes both without waiting, and removes a folder only while it holds them, so a running bot's
index and one being built are never removed. This module reads folder names and locks only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

IN_USE_LOCK = "in-use.lock"
BUILD_LOCK = "build.lock"  # the name retrieval.index.local gives the builders' lock

_held: list[IO[str]] = []  # the in-use locks of this process, kept open until it exits


def hold(key_folder: Path) -> None:
    """Mark an index folder as in use by this process until it exits (a shared lock)."""
    while True:
        handle = open(key_folder / IN_USE_LOCK, "a+")  # noqa: SIM115 - held until exit
        fcntl.flock(handle, fcntl.LOCK_SH)
        # prune() may have removed the folder between open and flock: lock the new file then.
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(key_folder / IN_USE_LOCK).st_ino
        except FileNotFoundError:
            key_folder.mkdir(parents=True, exist_ok=True)
            same = False
        if same:
            _held.append(handle)
            return
        handle.close()


@dataclass
class PruneReport:
    removed: list[Path] = field(default_factory=list)
    removed_bytes: int = 0
    in_use: list[Path] = field(default_factory=list)  # held by a running process: kept
    failed: list[tuple[Path, str]] = field(default_factory=list)  # could not be removed


def other_folders(index_root: Path, keep: Path) -> list[Path]:
    """The index folders under index_root other than `keep`, by name."""
    try:
        return sorted(f for f in index_root.iterdir() if f.is_dir() and f != keep)
    except FileNotFoundError:
        return []


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under a folder; files that vanish meanwhile count nothing."""
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def prune(index_root: Path, keep: Path) -> PruneReport:
    """Remove every index folder under index_root except `keep` and those in use."""
    report = PruneReport()
    for folder in other_folders(index_root, keep):
        try:
            with _unused(folder) as free:
                if not free:
                    report.in_use.append(folder)
                    continue
                size = folder_bytes(folder)
                shutil.rmtree(folder)
        except OSError as exc:
            report.failed.append((folder, exc.strerror or str(exc)))
            continue
        report.removed.append(folder)
        report.removed_bytes += size
    return report


@contextlib.contextmanager
def _unused(folder: Path) -> Iterator[bool]:
    """Whether no process uses or builds the folder; while True, none can start to."""
    handles = []
    try:
        for name in (IN_USE_LOCK, BUILD_LOCK):
            path = folder / name
            if not path.exists():
                continue  # never used since locks were taken, or never built
            handle = open(path, "a+")  # noqa: SIM115 - closed below
            handles.append(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        for handle in handles:
            handle.close()
