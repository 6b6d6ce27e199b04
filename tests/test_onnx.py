"""The ONNX fast path: same vectors as sentence-transformers, no torch on the question path,
one clear line for a missing or damaged export, and caches that never mix precisions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import load_corpus
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.model.kernels import resolve_precision
from retrieval.model.late_chunking import embed_paragraphs
from retrieval.model.onnx_model import OnnxModel, onnx_dir
from retrieval.model.packages import MINILM, MPNET, ModelError
from retrieval.model.vectors import unit
from retrieval.passages import split_passages

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who did President Tokayev order to be arrested?",
    "Why was the head of the country's spy agency detained?",
    "How many Russian soldiers arrived in Kazakhstan?",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """What the bot embeds for the bundled article: its passages, its sentences, and questions."""
    passages = [
        p for a in load_corpus(ROOT / "seeds") for p in split_passages(a, max_sentences=3, stride=1)
    ]
    return (
        [p.text for p in passages] + sorted({s for p in passages for s in p.sentences}) + QUESTIONS
    )


@pytest.fixture(scope="module")
def expected(texts) -> list:
    """The texts through all-mpnet-base-v2 on torch and sentence-transformers, as trained."""
    from retrieval.model.reference import load_torch_model

    return Encoder(load_torch_model(MPNET), MPNET, None).encode(texts)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.parametrize(("precision", "least"), [("int8", 0.99), ("fp32", 0.9999)])
def test_fast_path_vectors_match_sentence_transformers(expected, texts, precision, least):
    got = Encoder(load_model(MPNET, precision), MPNET, None).encode(texts)
    for one, two in zip(got, expected, strict=True):
        assert one.tokens == two.tokens  # the same word pieces are kept for token matching
    pooled = cosines(np.stack([e.vector for e in got]), np.stack([e.vector for e in expected]))
    pieces = cosines(
        np.concatenate([e.token_vectors for e in got]),
        np.concatenate([e.token_vectors for e in expected]),
    )
    assert len(pooled) == len(texts) and len(pieces) > 20 * len(texts)
    assert pooled.min() >= least, f"pooled vectors: worst cosine {pooled.min():.5f}"
    assert pieces.min() >= least, f"word-piece vectors: worst cosine {pieces.min():.5f}"


def test_sentences_are_compared_by_their_own_vectors(expected, texts):
    """A sentence of a paragraph of several is matched to questions by its vector alone, as
    sentence-transformers embeds it, not by its slice of the paragraph's pass (which leans to
    the paragraph); a paragraph of one sentence needs no second pass: its mean is that."""
    reference = {text: e.vector for text, e in zip(texts, expected, strict=True)}
    paragraphs = [p for a in load_corpus(ROOT / "seeds") for p in a.paragraphs]
    *article, alone = embed_paragraphs(load_model(MPNET), [*paragraphs, "One sentence alone."])
    wanted = np.stack([reference[s] for e in article for s in e.sentences])
    own = cosines(np.concatenate([e.vectors for e in article]), wanted)
    sliced = cosines(np.concatenate([e.means for e in article]), wanted)
    assert len(own) >= 20 and own.min() >= 0.99, f"worst cosine {own.min():.5f}"
    assert sliced.min() < 0.9 < own.min()  # what the second pass is for
    assert np.allclose(alone.vectors, unit(alone.means), atol=2e-3)


def test_default_model_is_mpnet_on_onnx_runtime_in_the_precision_measured_here(retriever):
    model = retriever.encoder.model
    chosen = resolve_precision(MPNET, "auto")  # int8 unless fp32 measured faster on this CPU
    assert DEFAULT_MODEL == MPNET
    assert (model.name, model.precision, model.dimension) == (MPNET, chosen, 768)
    assert model.format.startswith(f"onnx-{chosen}-")
    everything = np.arange(len(retriever.passages))
    assert retriever.index.passage_vectors(everything).shape == (len(retriever.passages), 768)


def test_question_path_imports_no_torch(tmp_path):
    """`python -m bot ask` as a user runs it, then the modules it loaded."""
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  cache_dir: {tmp_path / 'cache'}\n  seeds_dir: {ROOT / 'seeds'}\n"
    )
    program = (
        "import json, sys\n"
        "from bot.__main__ import main\n"
        f"code = main(['ask', '--json', '--config', {str(config)!r}, {QUESTIONS[0]!r}])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert "Karim Masimov" in answer["passages"][0]["highlight"]
    modules = {m.split(".")[0] for m in json.loads(result.stderr.splitlines()[-1])}
    assert "onnxruntime" in modules and "tokenizers" in modules
    assert not modules & {"torch", "transformers", "sentence_transformers", "onnx"}


# --- missing or damaged files ---------------------------------------------------------------


@pytest.fixture
def exported_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the MiniLM int8 export (copied, not linked: tests damage it)."""
    root = tmp_path / "onnx"
    source = onnx_dir(MINILM, "int8")
    target = root / MINILM / "int8"
    shutil.copytree(source, target, copy_function=shutil.copy2)  # copy2 keeps the mtimes
    monkeypatch.setenv("NEWSBOT_ONNX_DIR", str(root))
    return target


def test_an_intact_copy_loads_and_embeds(exported_copy):
    model = OnnxModel(MINILM, "int8")
    assert model.folder == exported_copy
    assert model.embed(["Who was arrested?"])[0].pieces[:2] == ("[CLS]", "who")
    assert model.embed([]) == []


def test_a_touched_but_unchanged_file_still_loads(exported_copy):
    os.utime(exported_copy / "model.onnx")  # new mtime: the hash is checked, and it matches
    OnnxModel(MINILM, "int8")


def test_a_missing_export_names_the_command_that_makes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSBOT_ONNX_DIR", str(tmp_path / "empty"))
    with pytest.raises(ModelError) as error:
        OnnxModel(MINILM, "int8")
    message = str(error.value)
    assert "\n" not in message
    assert "int8: not exported;" in message
    assert (
        "python -m retrieval.model.onnx_export --model all-MiniLM-L6-v2 --precision int8" in message
    )


def test_a_truncated_file_is_refused(exported_copy):
    model = exported_copy / "model.onnx"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"model.onnx is damaged \(\d+ bytes, expected \d+\)"):
        OnnxModel(MINILM, "int8")


def test_a_changed_byte_is_refused(exported_copy):
    model = exported_copy / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one weight changed
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256 differs"):
        OnnxModel(MINILM, "int8")


def test_a_damaged_file_is_one_line_from_the_command_line(exported_copy, tmp_path):
    (exported_copy / "tokenizer.json").write_text("{}")
    config = tmp_path / "bot.yaml"
    config.write_text(f"retrieval:\n  model: {MINILM}\ncorpus:\n  seeds_dir: {ROOT / 'seeds'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--config", str(config), "Who was arrested?"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),  # with the monkeypatched NEWSBOT_ONNX_DIR
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "tokenizer.json is damaged" in lines[0]
    assert "make onnx" in lines[0]


# --- the cache: one set of vectors per model and format --------------------------------------


def test_precisions_never_share_cached_vectors(tmp_path):
    paragraphs = ["Tokayev ordered the arrest of Karim Masimov.", "Russian soldiers arrived."]
    int8 = Encoder(load_model(MINILM, "int8"), MINILM, tmp_path).paragraphs
    fp32 = Encoder(load_model(MINILM, "fp32"), MINILM, tmp_path).paragraphs
    assert (int8.embed(paragraphs), fp32.embed(paragraphs)) == (2, 2)
    again = Encoder(load_model(MINILM, "fp32"), MINILM, tmp_path).paragraphs
    assert again.embed(paragraphs) == 0 and again.embedded_count == 0
    assert [len(e.sentences) for e in again.get(paragraphs)] == [1, 1]  # read back whole


def test_indexing_reports_progress_up_to_the_total():
    seen: list[tuple[int, int]] = []
    store = Encoder(load_model(MINILM, "int8"), MINILM, None).paragraphs
    paragraphs = [f"Paragraph number {n} about the riots." for n in range(30)]
    store.embed(paragraphs, progress=lambda *p: seen.append(p), batch=8)
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len(seen) > 2  # batch by batch, not only at the end


def test_export_of_a_complete_folder_does_nothing():
    from retrieval.model.onnx_export import export

    folder = onnx_dir(MINILM, "int8")
    before = (folder / "manifest.json").stat().st_mtime_ns
    assert export(MINILM, "int8") == folder
    assert (folder / "manifest.json").stat().st_mtime_ns == before


def test_another_export_of_the_same_precision_does_not_reuse_vectors(exported_copy, tmp_path):
    """Re-exported with other settings (a new quantizer, say), the old vectors must go unused."""
    texts = ["Tokayev ordered the arrest of Karim Masimov."]
    first = Encoder(OnnxModel(MINILM, "int8"), MINILM, tmp_path / "cache").paragraphs
    first.embed(texts)
    manifest_path = exported_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["model.onnx"]["sha256"] = "0" * 64  # as if the weights were new...
    manifest["files"]["model.onnx"]["mtime_ns"] = (exported_copy / "model.onnx").stat().st_mtime_ns
    manifest_path.write_text(json.dumps(manifest))  # ...and trusted as they are
    second = Encoder(OnnxModel(MINILM, "int8"), MINILM, tmp_path / "cache").paragraphs
    second.embed(texts)
    assert (first.embedded_count, second.embedded_count) == (1, 1)
