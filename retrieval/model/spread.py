"""The index build's embedding spread over a Ray cluster (`newsbot index --ray ADDRESS`).

Embedding is nearly all of a build's time (docs/scaling.md), and its batches are independent,
so they go to Ray actors, one per CPU of the cluster, each loading its own ONNX session once and
running on one core. The one writer stays here: batches come back in the order they were sent,
and the paragraph store writes each to the cache as it arrives, so a driver killed mid-build
loses only the batches in flight and the next build resumes from the cache. A worker that dies
is restarted by Ray and its calls retried (max_restarts, max_task_retries).

Every worker must run the same export of the same model as the driver: a worker whose model
file differs (another install, another precision) would write vectors the questions cannot be
compared with, so the build stops with one line saying which node differs.

`ray` is an optional extra (`pip install -e '.[ray]'`); only this module imports it, and only
when `--ray` is given. Machines of the cluster need the project installed the same way
(`make install`, so the same ONNX files); see docs/scaling.md.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Iterable, Iterator

from retrieval.model.late_chunking import BatchEmbedder, ParagraphEmbedding, embed_paragraphs
from retrieval.model.onnx_model import OnnxModel

log = logging.getLogger(__name__)

# Batches queued per worker beyond the one it runs: enough to keep it busy between replies.
QUEUE_PER_WORKER = 2
RESTARTS = 3
CONNECT_TIMEOUT_S = 5.0


class SpreadError(Exception):
    """The cluster cannot be reached or used; the message is one line for the user."""


class _Worker:
    """One Ray actor: its own ONNX session on one core, loaded once."""

    def __init__(self, name: str, precision: str) -> None:
        self.model = OnnxModel(name, precision, threads=1)

    def format(self) -> tuple[str, str]:
        return socket.gethostname(), self.model.format

    def embed(self, texts: list[str]) -> list[ParagraphEmbedding]:
        return embed_paragraphs(self.model, texts)


def ray_embedder(address: str, model: OnnxModel, workers: int | None = None) -> BatchEmbedder:
    """A BatchEmbedder over the Ray cluster at `address` ("local": start one on this machine).

    Connects and starts the workers now, so a bad address or a mismatched install is said
    before anything is embedded.
    """
    try:
        import ray
    except ImportError:
        raise SpreadError(
            "--ray needs the ray package: pip install -e '.[ray]' (see docs/scaling.md)"
        ) from None
    _connect(ray, address)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    count = max(1, min(workers or cpus, cpus))
    actor = ray.remote(num_cpus=1, max_restarts=RESTARTS, max_task_retries=RESTARTS)(_Worker)
    pool = [actor.remote(model.name, model.precision) for _ in range(count)]
    try:
        formats = ray.get([w.format.remote() for w in pool])
    except Exception as exc:  # a worker that cannot load the model raises it here
        raise SpreadError(f"a Ray worker could not load {model.name}: {_first_line(exc)}") from None
    for host, fmt in formats:
        if fmt != model.format:
            raise SpreadError(
                f"the Ray worker on {host} runs {model.name} as {fmt}, this machine as "
                f"{model.format}: install the same version and run `make onnx` there"
            )
    log.info("embedding on %d Ray worker(s) at %s", count, address)

    def embed(batches: Iterable[list[str]]) -> Iterator[list[ParagraphEmbedding]]:
        pending: deque = deque()
        for n, batch in enumerate(batches):
            pending.append(pool[n % count].embed.remote(batch))
            if len(pending) >= count * QUEUE_PER_WORKER:
                yield _result(ray, pending.popleft(), address)
        while pending:
            yield _result(ray, pending.popleft(), address)

    return embed


def _result(ray, ref, address: str) -> list[ParagraphEmbedding]:  # noqa: ANN001 - lazy ray
    try:
        return ray.get(ref)
    except Exception as exc:  # retries used up, the cluster gone: what is cached stays
        raise SpreadError(f"the Ray cluster at {address} failed: {_first_line(exc)}") from None


def _connect(ray, address: str) -> None:  # noqa: ANN001 - the ray module, imported lazily
    if ray.is_initialized():
        return
    if address != "local":
        _check_reachable(address)
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # ConnectionError, ValueError, RuntimeError: all one line here
        raise SpreadError(
            f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}"
        ) from None


def _check_reachable(address: str) -> None:
    """A TCP connection to the head first: ray.init retries an unreachable head for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SpreadError(f"cannot use the Ray address {address!r}: expected host:port")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SpreadError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is 'ray start "
            "--head' running there?"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
