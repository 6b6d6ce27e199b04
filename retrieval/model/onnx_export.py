"""`python -m retrieval.model.onnx_export`: make the ONNX files the question path runs on.

Run once at install time (`make onnx`, part of `make install`); it skips folders that are already
complete. Needs torch, transformers and onnx; the bot itself never imports them.

For each model and precision it writes, into a scratch folder renamed into place only when done:
- model.onnx: the transformer (input_ids, attention_mask -> last_hidden_state), exported with
  torch's TorchScript-based exporter (its files load in a third of the time of the dynamo
  exporter's, with the same outputs: measured). Pooling stays outside, in numpy.
- int8 only: weights quantized to 8 bits in blocks of 64 along the input dimension
  (MatMulNBits, accuracy level 4: activations are quantized per block at run time, so the
  outlier features of these models do not wreck whole rows, as per-tensor dynamic quantization
  does: pooled cosine to torch 0.78 against 0.999 here). Blocks of 64 keep every article and
  SQuAD hit of fp32; 32 and 128 each lose one article question (see docs/model.md).
- tokenizer.json, and manifest.json (written last) with sizes, times and SHA-256 of the files.

Then, once both precisions of a model are there, it times them on this CPU and records which
`precision: auto` runs (retrieval.model.kernels): int8 is faster on some CPUs, fp32 on others.

Every export is checked against the torch model on real sentences before it is kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from retrieval.model import kernels
from retrieval.model.onnx_model import (
    EXPORT_VERSION,
    MANIFEST,
    PRECISIONS,
    OnnxModel,
    check_export,
    onnx_dir,
    read_manifest,
)
from retrieval.model.packages import (
    DEFAULT_MODEL,
    MINILM,
    MPNET,
    ModelError,
    file_sha256,
    resolve_model,
)

INT8_BLOCK_SIZE = 64
# The export is refused unless every check sentence comes out this close to torch's vectors.
MIN_COSINE = {"fp32": 0.9999, "int8": 0.99}
CHECK_TEXTS = (
    "Kazakh President Kassym-Jomart Tokayev ordered the arrest of Karim Masimov.",
    "The riots over LPG prices began in Zhanaozen.",
    "Who was arrested?",
    "2,500 Russian soldiers arrived.",
)


def export(name: str | None, precision: str, *, force: bool = False) -> Path:
    """Export one model at one precision unless a complete export is there; returns its folder."""
    target = onnx_dir(name, precision)
    if not force and check_export(target, read_manifest(target)) is None:
        return target
    source = Path(resolve_model(name))
    if not (source / "tokenizer.json").is_file():
        raise ModelError(f"{name}: no tokenizer.json (a fast tokenizer is needed) in {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{precision}-") as scratch:
        work = Path(scratch) / "out"
        work.mkdir()
        fp32 = Path(scratch) / "fp32.onnx"
        _export_fp32(source, fp32)
        if precision == "fp32":
            fp32.rename(work / "model.onnx")
        else:
            _quantize_int8(fp32, work / "model.onnx")
        shutil.copyfile(source / "tokenizer.json", work / "tokenizer.json")
        _write_manifest(work, source, name, precision)
        _check_against_torch(work, source, name, precision)
        if target.exists():
            shutil.rmtree(target)
        os.rename(work, target)
    print(
        f"{name or DEFAULT_MODEL} ({precision}): exported to {target} in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return target


def _export_fp32(source: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    # Eager attention: the plain matmul-softmax graph, which ONNX Runtime fuses and quantizes.
    model = AutoModel.from_pretrained(source, attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.randint(1000, 2000, (2, 16))
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            LastHiddenState(),
            (ids, torch.ones_like(ids)),
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
        )


def _quantize_int8(fp32: Path, path: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # The quantizer logs every node it skips at INFO; only problems are worth a line.
    logging.getLogger("onnxruntime.quantization").setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(fp32)),
        bits=8,
        block_size=INT8_BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=4,
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(path), use_external_data_format=False)


def _write_manifest(work: Path, source: Path, name: str | None, precision: str) -> None:
    settings = source / "sentence_bert_config.json"
    max_length = json.loads(settings.read_text())["max_seq_length"] if settings.is_file() else 512
    config = json.loads((source / "config.json").read_text())
    tokenizer = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    pad_id = (tokenizer.get("padding") or {}).get("pad_id", config.get("pad_token_id", 0))
    files = {}
    for file in ("model.onnx", "tokenizer.json"):
        stat = (work / file).stat()
        files[file] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": file_sha256(work / file),
        }
    manifest = {
        "export_version": EXPORT_VERSION,
        "model": name or DEFAULT_MODEL,
        "source": str(source),
        "precision": precision,
        "int8_block_size": INT8_BLOCK_SIZE if precision == "int8" else None,
        "dimension": config["hidden_size"],
        "max_seq_length": max_length,
        "pad_id": pad_id,
        "files": files,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _check_against_torch(work: Path, source: Path, name: str | None, precision: str) -> None:
    """Refuse an export whose vectors differ from sentence-transformers' on real sentences."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(source), device="cpu")
    expected = reference.encode(
        list(CHECK_TEXTS), output_value="token_embeddings", show_progress_bar=False
    )
    got = OnnxModel(name, precision, folder=work).embed(list(CHECK_TEXTS))
    worst = 1.0
    for states, tokens in zip(got, expected, strict=True):
        reference_vectors = tokens.float().numpy()
        worst = min(worst, _cosine(states.vectors.mean(0), reference_vectors.mean(0)))
        worst = min(worst, float(_cosine_rows(states.vectors, reference_vectors).min()))
    if worst < MIN_COSINE[precision]:
        raise ModelError(
            f"{name or DEFAULT_MODEL} ({precision}): the ONNX model's vectors differ from torch's "
            f"(cosine {worst:.4f} < {MIN_COSINE[precision]}); not keeping it"
        )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _measure_kernels(name: str) -> None:
    """Which precision `auto` runs here; a line only when it was measured, not when it was known."""
    if kernels.read_record(name):
        return
    record = kernels.measure(name)  # None unless both precisions are exported
    if record:
        print(kernels.summary(name, record), flush=True)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Before onnxruntime's quantizer is imported: it configures the root logger at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="python -m retrieval.model.onnx_export", description=__doc__
    )
    parser.add_argument(
        "--model",
        action="append",
        help=f"model to export (repeatable; default: {MPNET} and {MINILM}); or a local folder",
    )
    parser.add_argument(
        "--precision", choices=[*PRECISIONS, "all"], default="all", help="default: all"
    )
    parser.add_argument("--force", action="store_true", help="export even if complete")
    args = parser.parse_args(argv)
    precisions = PRECISIONS if args.precision == "all" else (args.precision,)
    try:
        for name in args.model or [MPNET, MINILM]:
            for precision in precisions:
                export(name, precision, force=args.force)
            _measure_kernels(name)
    except ModelError as exc:
        print(f"python -m retrieval.model.onnx_export: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
