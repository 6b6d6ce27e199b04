"""Which precision runs fastest on this machine, measured once at install time.

int8 is not faster everywhere: with AVX-512 VNNI its MatMulNBits kernels take a third of fp32's
time a question, but on an AVX2-only CPU (no VNNI) int8 measured 45 ms a question against fp32's
41 ms. So `python -m retrieval.model.onnx_export` times both exports of a model here and writes
what it measured, with the CPU it measured on, into `<onnx root>/<model>/kernels.json`;
`precision: auto` (the default) reads it. A record from another CPU or of other exports is not
trusted: `auto` then falls back to int8, the precision the evaluation tables were first made with
(both give the same tables).

One precision serves both questions and the index build: a question's vector and the passages'
vectors must come from the same weights (int8 and fp32 vectors differ, cosine about 0.996), and
the embedding cache is keyed by precision, so a machine that switches re-embeds once. When the
faster precision for questions is not the faster for the build, the build decides: it is the
wait users meet (minutes), where a question differs by milliseconds.

Times are CPU seconds of the process (every thread), not wall time: the install machine is often
busy, and CPU time measures the kernels' work rather than what else runs.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from retrieval.model.onnx_model import (
    DEFAULT_PRECISION,
    PRECISIONS,
    OnnxModel,
    check_export,
    model_slug,
    onnx_dir,
    onnx_root,
    read_manifest,
)

KERNELS = "kernels.json"
# Bump when what is measured changes; an older record is then measured again.
KERNELS_VERSION = 1
# The CPU features ONNX Runtime's kernels dispatch on; the rest of /proc/cpuinfo's list is noise.
KERNEL_FLAGS = (
    "sse4_1", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "sve",
)  # fmt: skip
QUESTIONS = (
    "Who did President Tokayev order to be arrested?",
    "What happened in Almaty on 5 January?",
    "How much did Valero lose in the fourth quarter?",
)
# Paragraph-length texts, as the index build embeds them (about 120-200 word pieces each).
PARAGRAPH = (
    "Kazakhstan's former security chief Karim Masimov was arrested on suspicion of treason after "
    "protests over fuel prices turned violent, the state security committee said on Saturday. "
    "President Kassym-Jomart Tokayev has blamed the unrest on foreign-trained terrorists and "
    "asked a Russia-led military alliance for help; its troops arrived in Almaty on Thursday. "
    "Shares of Valero Energy Corp fell after the refiner reported a fourth-quarter net loss of "
    "31.2 mln dlrs, against a profit a year earlier, citing weak margins and inventory losses."
)
QUESTION_RUNS = 15
BUILD_RUNS = 3
BUILD_BATCH = 8


def cpu() -> dict:
    """The CPU's model name and the kernel-relevant flags it has (Linux; else what is known)."""
    name, flags = "", set()
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
        ):
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model name", "CPU part") and not name:
                name = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {
        "model": name or os.uname().machine,
        "flags": [f for f in KERNEL_FLAGS if f in flags],
        "cores": os.cpu_count() or 1,
    }


def describe(record: dict) -> str:
    """'AMD EPYC (avx2 fma avx512_vnni), 2 cores' for a benchmark's header."""
    machine = record.get("cpu", record)
    return f"{machine['model']} ({' '.join(machine['flags']) or 'no vector flags'}), {machine['cores']} cores"


def kernels_path(name: str | None) -> Path:
    return onnx_root() / model_slug(name) / KERNELS


def _exports(name: str | None) -> dict[str, str] | None:
    """precision -> the model file's SHA-256 for every complete export, None if one is missing."""
    shas = {}
    for precision in PRECISIONS:
        folder = onnx_dir(name, precision)
        manifest = read_manifest(folder)
        if check_export(folder, manifest) is not None:
            return None
        assert manifest is not None
        shas[precision] = manifest["files"]["model.onnx"]["sha256"]
    return shas


def read_record(name: str | None) -> dict | None:
    """The measurement for this model if it was made on this CPU of the exports now installed."""
    try:
        record = json.loads(kernels_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != KERNELS_VERSION:
        return None
    if record.get("cpu") != cpu() or record.get("exports") != _exports(name):
        return None
    return record


def resolve_precision(name: str | None, precision: str | None) -> str:
    """`auto` (or none given) is the precision measured fastest here, else the default."""
    if precision not in (None, "auto"):
        return precision
    record = read_record(name)
    return record["chosen"] if record else DEFAULT_PRECISION


def measure(name: str | None) -> dict | None:
    """Time every precision of this model here, choose, and save the record (None: not exported).

    About 10-20 s for all-mpnet-base-v2; skipped when a current record exists.
    """
    current = read_record(name)
    if current:
        return current
    exports = _exports(name)
    if exports is None:
        return None
    models = {p: OnnxModel(name, p) for p in PRECISIONS}
    paragraphs = [PARAGRAPH] * BUILD_BATCH
    for model in models.values():  # warm-up: first runs allocate and pick kernels
        model.embed(QUESTIONS[:1])
    question_s: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    build_s: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    # Interleaved, so a burst of other work on the machine falls on both alike.
    for run in range(QUESTION_RUNS):
        for precision, model in models.items():
            question_s[precision].append(_cpu_seconds(model, [QUESTIONS[run % len(QUESTIONS)]]))
            if run < BUILD_RUNS:
                build_s[precision].append(_cpu_seconds(model, paragraphs))
    timings = {
        p: {
            "question_ms": round(statistics.median(question_s[p]) * 1000, 2),
            "paragraphs_per_cpu_s": round(BUILD_BATCH / statistics.median(build_s[p]), 2),
        }
        for p in PRECISIONS
    }
    fastest_build = max(PRECISIONS, key=lambda p: timings[p]["paragraphs_per_cpu_s"])
    record = {
        "version": KERNELS_VERSION,
        "cpu": cpu(),
        "exports": exports,
        "timings": timings,
        "fastest_question": min(PRECISIONS, key=lambda p: timings[p]["question_ms"]),
        "fastest_build": fastest_build,
        "chosen": fastest_build,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = kernels_path(name)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, path)
    return record


def summary(name: str, record: dict) -> str:
    """One line for the install log: what was measured and what `auto` will use."""
    parts = [
        f"{p} {t['question_ms']:.1f} ms a question, {t['paragraphs_per_cpu_s']:.1f} paragraphs/CPU-s"
        for p, t in record["timings"].items()
    ]
    return f"{name} on {describe(record)}: {'; '.join(parts)}; precision auto = {record['chosen']}"


def _cpu_seconds(model: OnnxModel, texts: list[str]) -> float:
    started = time.process_time()
    model.embed(texts)
    return time.process_time() - started
