"""The embedding model at run time: a `tokenizers` tokenizer and an ONNX Runtime session.

This module must stay free of torch, transformers and sentence-transformers: a question needs
only the tokenizer, the session and numpy. The ONNX files are made once, at install time, by
`python -m retrieval.model.onnx_export` (see that module), into a folder per model and precision:

    <onnx root>/<model>/<precision>/model.onnx, tokenizer.json, manifest.json

The manifest, written last, records the file's size, modification time and SHA-256. A file whose
size differs from it is refused with one line saying how to rebuild it; one whose modification
time differs is hashed again before it is used, so an edited or damaged file never loads quietly.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.memory import release_freed_memory
from retrieval.model.packages import (
    DEFAULT_MODEL,
    PACKAGED_MODELS,
    ModelError,
    canonical_model,
    file_sha256,
    resolve_model,
)

PRECISIONS = ("int8", "fp32")
DEFAULT_PRECISION = "int8"
MANIFEST = "manifest.json"
# Bump when the export changes what the files hold; older folders are then rebuilt.
EXPORT_VERSION = 1
# Texts per forward pass when indexing. Small batches of length-sorted texts waste little on
# padding, and one run per core side by side beats one run after another (measured).
BATCH_SIZE = 8

Progress = Callable[[int], None]  # called with the number of texts just embedded


def onnx_root() -> Path:
    """Where exported models live: inside the virtualenv, so they come and go with the install."""
    configured = os.environ.get("NEWSBOT_ONNX_DIR")
    return Path(configured) if configured else Path(sys.prefix) / "share" / "newsbot-onnx"


def model_slug(name: str | None) -> str:
    """A folder name for a model: the packaged models by name, a local folder by its path."""
    name = canonical_model(name) or DEFAULT_MODEL
    if name in PACKAGED_MODELS:
        return name
    path = Path(name).expanduser().resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"{path.name}-{digest}"


def onnx_dir(name: str | None, precision: str) -> Path:
    return onnx_root() / model_slug(name) / precision


def rebuild_hint(name: str | None, precision: str) -> str:
    model = name or DEFAULT_MODEL
    return f"run `make onnx` or `python -m retrieval.model.onnx_export --model {model} --precision {precision}`"


def read_manifest(folder: Path) -> dict | None:
    """The manifest of a complete export, or None if the folder holds none that is readable."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def check_export(folder: Path, manifest: dict | None) -> str | None:
    """What is wrong with an exported folder, or None if it is complete and unchanged."""
    if manifest is None:
        return "not exported (no manifest.json)" if folder.exists() else "not exported"
    if manifest.get("export_version") != EXPORT_VERSION:
        return "exported by an older version of this program"
    for name, expected in manifest.get("files", {}).items():
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            return f"{name} is missing"
        if stat.st_size != expected["size"]:
            return f"{name} is damaged ({stat.st_size} bytes, expected {expected['size']})"
        # An unchanged modification time vouches for the hash checked when the file was made;
        # any other time costs one hash, not a silent load of altered weights.
        if stat.st_mtime_ns != expected["mtime_ns"] and file_sha256(path) != expected["sha256"]:
            return f"{name} is damaged (its SHA-256 differs from the one recorded at export)"
    return None


@dataclass(frozen=True)
class TokenStates:
    """One text through the model: its word pieces and the last layer's vector for each."""

    pieces: tuple[str, ...]
    vectors: np.ndarray  # (len(pieces), d) float32, not normalised
    # (start, end) character offsets of each piece in the text; (0, 0) for [CLS], [SEP], padding
    offsets: tuple[tuple[int, int], ...] = ()


class OnnxModel:
    """A sentence-transformers model (transformer + mean pooling) run by ONNX Runtime."""

    def __init__(
        self,
        name: str | None,
        precision: str = DEFAULT_PRECISION,
        folder: Path | None = None,
        threads: int | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ModelError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        name = canonical_model(name)  # "MiniLM" is the packaged all-MiniLM-L6-v2
        self.name = name or DEFAULT_MODEL
        self.precision = precision
        if self.name not in PACKAGED_MODELS:
            resolve_model(name)  # a folder that is not there, or holds no model: say so first
        self.folder = folder or onnx_dir(name, precision)
        manifest = read_manifest(self.folder)
        problem = check_export(self.folder, manifest)
        if problem:
            raise ModelError(
                f"{self.name} ({precision}): the ONNX model in {self.folder}: {problem}; "
                f"{rebuild_hint(name, precision)}"
            )
        assert manifest is not None
        # Part of the cache key: another precision, or another export of the same precision
        # (a new quantizer, other settings), never reuses the vectors of this one.
        self.format = f"onnx-{precision}-{manifest['files']['model.onnx']['sha256'][:12]}"
        self.dimension = int(manifest["dimension"])
        self.max_length = int(manifest["max_seq_length"])

        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # the exported file pads every text to 128 pieces
        self.tokenizer.enable_truncation(self.max_length)  # as sentence-transformers truncates
        self.pad_id = int(manifest["pad_id"])
        options = ort.SessionOptions()
        # A question runs on every core; without spinning, idle workers sleep instead of
        # burning a core other runs (the Telegram bot's workers, batch indexing) need. Measured:
        # 9-12 ms a question against 12-13 ms on one thread, indexing unchanged.
        # A Ray worker (retrieval.model.spread) runs on the one core it was given.
        self.threads = threads or os.cpu_count() or 1
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initializers are not the user's
        try:
            self.session = ort.InferenceSession(
                str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"{self.name} ({precision}): cannot load {self.folder / 'model.onnx'} ({reason}); "
                f"{rebuild_hint(name, precision)}"
            ) from None
        release_freed_memory()  # the parsed model file, freed but kept by the heap (47 MiB)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> list[TokenStates]:
        """Token states for each text; many texts go in length-sorted batches on every core."""
        if not texts:
            return []
        if len(texts) <= BATCH_SIZE:
            states = self._run(list(texts))
            if progress:
                progress(len(texts))
            return states
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
        results: list[TokenStates | None] = [None] * len(texts)

        def run(batch: list[int]) -> None:
            for i, state in zip(batch, self._run([texts[i] for i in batch]), strict=True):
                results[i] = state
            if progress:
                progress(len(batch))

        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            list(pool.map(run, batches))  # list(): re-raise a worker's exception here
        return [r for r in results if r is not None]

    def _run(self, texts: list[str]) -> list[TokenStates]:
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return [
            TokenStates(
                tuple(e.tokens),
                hidden[row, : len(e.ids)].astype(np.float32, copy=False),
                tuple(e.offsets),
            )
            for row, e in enumerate(encodings)
        ]
