"""Handing memory the process freed back to the system.

glibc keeps freed heap pages for the next allocation rather than returning them: after the
model's load (onnxruntime parses the whole 178 MiB model file, builds its weights from it, then
frees the parse) about 47 MiB of freed pages stay counted in the bot's RSS for good. One
malloc_trim then returns them; measured (docs/scaling.md): the bot's RSS falls by that much,
and the questions after it are as fast (a one-off call, a few milliseconds). Not called per
question: the pages a question frees are asked for again by the next one, and trimming them
every time cost 4-12 ms a question on this machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc only; elsewhere nothing happens)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


__all__ = ["release_freed_memory"]
