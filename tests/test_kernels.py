"""`precision: auto`: both exports timed on this CPU at install, the faster one used, and a
record made on another CPU or of other exports never trusted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from retrieval.model import kernels
from retrieval.model.embeddings import load_model
from retrieval.model.onnx_model import onnx_dir
from retrieval.model.packages import MINILM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def exports(tmp_path, monkeypatch) -> Path:
    """Private copies of MiniLM's two exports, so the record is written beside them only."""
    root = tmp_path / "onnx"
    for precision in ("int8", "fp32"):
        shutil.copytree(onnx_dir(MINILM, precision), root / MINILM / precision)
    monkeypatch.setenv("NEWSBOT_ONNX_DIR", str(root))
    return root / MINILM


def test_the_export_command_times_both_precisions_and_auto_uses_the_faster(exports):
    run = subprocess.run(
        [sys.executable, "-m", "retrieval.model.onnx_export", "--model", MINILM],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )  # fmt: skip
    record = json.loads((exports / "kernels.json").read_text())
    assert record["cpu"] == kernels.cpu()  # what it was measured on, for the benchmark's header
    times = record["timings"]
    assert record["chosen"] == max(times, key=lambda p: times[p]["paragraphs_per_cpu_s"])
    assert f"precision auto = {record['chosen']}" in run.stdout
    assert kernels.resolve_precision(MINILM, "auto") == record["chosen"]
    assert kernels.resolve_precision(MINILM, None) == record["chosen"]
    assert load_model(MINILM, "auto").precision == record["chosen"]
    # A second run finds the record current and says nothing, measuring nothing.
    again = subprocess.run(
        [sys.executable, "-m", "retrieval.model.onnx_export", "--model", MINILM],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT,
    )  # fmt: skip
    assert again.stdout == ""
    assert json.loads((exports / "kernels.json").read_text()) == record


def _record_choosing_fp32(exports: Path) -> dict:
    record = kernels.measure(MINILM)
    assert record is not None
    record = {**record, "chosen": "fp32"}
    (exports / "kernels.json").write_text(json.dumps(record))
    return record


def test_a_forced_precision_wins_over_the_measurement(exports):
    _record_choosing_fp32(exports)
    assert kernels.resolve_precision(MINILM, "auto") == "fp32"
    assert kernels.resolve_precision(MINILM, "int8") == "int8"


def test_a_record_from_another_cpu_or_export_is_not_trusted(exports):
    record = _record_choosing_fp32(exports)
    moved = {**record, "cpu": {**record["cpu"], "flags": ["avx2"]}}
    (exports / "kernels.json").write_text(json.dumps(moved))
    assert kernels.resolve_precision(MINILM, "auto") == "int8"  # the default, not fp32
    reexported = {**record, "exports": {**record["exports"], "fp32": "0" * 64}}
    (exports / "kernels.json").write_text(json.dumps(reexported))
    assert kernels.resolve_precision(MINILM, "auto") == "int8"
    (exports / "kernels.json").write_text("{not json")
    assert kernels.resolve_precision(MINILM, "auto") == "int8"


def test_auto_is_the_default_and_other_values_are_refused_in_one_line(tmp_path):
    config = tmp_path / "bot.yaml"
    config.write_text("retrieval:\n  precision: auto\n")
    assert load_config(config).retrieval.precision == "auto"
    config.write_text("retrieval:\n  precision: int4\n")
    with pytest.raises(ConfigError) as error:
        load_config(config)
    message = str(error.value)
    assert "retrieval.precision" in message and "'auto'" in message
