"""Finding model files on disk: the split all-mpnet-base-v2 archive is joined, checked, unpacked."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from retrieval.model.packages import ModelError, assemble_model, resolve_model

WEIGHTS = b"not really weights, but bytes with a known hash" * 1000


def split_archive(folder: Path, parts: int = 3) -> list[Path]:
    """A zip like the published one (a model folder, Windows litter), cut into numbered parts."""
    archive = folder / "model.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("all-mpnet-base-v2/modules.json", "[]")
        bundle.writestr("all-mpnet-base-v2/model.safetensors", WEIGHTS)
        bundle.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
    data = archive.read_bytes()
    size = len(data) // parts + 1
    paths = []
    for n in range(parts):
        path = folder / f"part_{n + 1:03d}" / f"all-mpnet-base-v2.zip.{n + 1:03d}"
        path.parent.mkdir()
        path.write_bytes(data[n * size : (n + 1) * size])
        paths.append(path)
    return paths


def test_parts_are_joined_unpacked_and_reused(tmp_path):
    parts = split_archive(tmp_path)
    target = tmp_path / "unpacked" / "all-mpnet-base-v2"
    folder = assemble_model(parts, target, hashlib.sha256(WEIGHTS).hexdigest())
    assert folder == target
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert not (folder / "desktop.ini").exists()
    assert [p.name for p in target.parent.iterdir()] == ["all-mpnet-base-v2"]  # no scratch left
    for part in parts:
        part.unlink()  # a second start must not need the parts again
    assert assemble_model(parts, target, "ignored once unpacked") == target


def test_weights_that_differ_from_upstream_are_refused_and_nothing_is_left(tmp_path):
    parts = split_archive(tmp_path)
    target = tmp_path / "unpacked" / "all-mpnet-base-v2"
    with pytest.raises(ModelError, match="weights differ from upstream"):
        assemble_model(parts, target, "0" * 64)
    assert list(target.parent.iterdir()) == []


def test_a_missing_part_is_not_a_zip(tmp_path):
    parts = split_archive(tmp_path)
    target = tmp_path / "unpacked" / "all-mpnet-base-v2"
    with pytest.raises(ModelError, match="do not form a zip file"):
        assemble_model(parts[:-1], target, hashlib.sha256(WEIGHTS).hexdigest())
    assert list(target.parent.iterdir()) == []


def test_packaged_models_come_from_their_packages():
    assert (Path(resolve_model(None)) / "modules.json").is_file()
    assert resolve_model("all-mpnet-base-v2") == resolve_model(None)  # the default
    assert (Path(resolve_model("all-MiniLM-L6-v2")) / "modules.json").is_file()


def test_folders_that_hold_no_model_are_refused(tmp_path):
    with pytest.raises(ModelError, match="no modules.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(str(tmp_path / "missing"))
