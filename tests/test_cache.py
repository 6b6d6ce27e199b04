"""The embedding cache: a restart embeds nothing, an edit embeds only the paragraph it touched,
and a build that is killed keeps every batch it finished."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import load_corpus
from retrieval.model.embeddings import Encoder
from retrieval.model.late_chunking import ParagraphStore, embed_paragraphs
from retrieval.model.packages import MINILM
from retrieval.pipeline import Retriever

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_bf7e3f6dcec9099b.txt"
OLD_SENTENCE = "They are not obvious purges."
NEW_SENTENCE = "They are certainly not obvious purges."
# The small model for `python -m bot` children that test the cache, not the answers.
SMALL = f"retrieval:\n  model: {MINILM}\n"

NEW_ARTICLE = """date 2023-02-06 Earthquake strikes southern Turkey

A magnitude 7.8 earthquake struck southern Turkey near the Syrian border before dawn on Monday.

Rescue teams searched collapsed buildings in Gaziantep and Kahramanmaras for survivors.
"""


def paragraphs_of(retriever: Retriever) -> set[str]:
    return {p for a in retriever.articles for p in a.paragraphs}


def build(model, config, seeds: Path, cache: Path | None) -> tuple[Retriever, Encoder]:
    encoder = Encoder(model, model.name, cache)
    return Retriever.over_articles(load_corpus(seeds), config.retrieval, encoder), encoder


@pytest.fixture(scope="module")
def warm(model, config, tmp_path_factory):
    """A cache filled by a first build over the bundled seeds: (cache dir, retriever, count)."""
    seeds = tmp_path_factory.mktemp("warm-seeds")
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    cache = tmp_path_factory.mktemp("warm-cache")
    retriever, encoder = build(model, config, seeds, cache)
    return cache, retriever, encoder.paragraphs.embedded_count


@pytest.fixture
def cache_copy(warm, tmp_path) -> Path:
    """A private copy of the warm cache, so tests that add vectors don't affect each other."""
    target = tmp_path / "cache"
    shutil.copytree(warm[0], target)
    return target


def test_first_build_embeds_each_paragraph_once(warm):
    cache, retriever, count = warm
    # One forward pass per paragraph, not one per window and one per sentence.
    assert count == len(paragraphs_of(retriever)) == 3
    assert len(retriever.passages) > 20
    assert (cache / "embeddings.sqlite3").is_file()


def test_unchanged_seeds_embed_nothing(model, config, seeds_copy, cache_copy, warm):
    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    assert encoder.paragraphs.embedded_count == 0
    # The cached vectors are the ones the first build computed, and they still answer.
    everything = np.arange(len(retriever.passages))
    assert np.allclose(
        retriever.index.passage_vectors(everything), warm[1].index.passage_vectors(everything)
    )
    answer = retriever.ask("Who did President Tokayev order to be arrested?")
    assert "Karim Masimov" in answer.hits[0].passage.text


def test_cached_paragraphs_equal_fresh_ones(model, warm, cache_copy):
    paragraphs = list(warm[1].articles[0].paragraphs[:3])
    cached = ParagraphStore(model, model.name, cache_copy)
    assert cached.embed(paragraphs) == 0
    for old, new in zip(cached.get(paragraphs), embed_paragraphs(model, paragraphs), strict=True):
        assert old.sentences == new.sentences
        assert np.array_equal(old.piece_ids, new.piece_ids) and len(old.piece_ids) > 5
        assert np.allclose(old.means, new.means, atol=2e-2)  # stored in float16
        assert np.allclose(old.vectors, new.vectors, atol=2e-3)  # unit rows, float16
        assert np.allclose(old.token_vectors(), new.token_vectors(), atol=1e-3)


def test_editing_one_sentence_embeds_only_its_paragraph(
    model, config, seeds_copy, cache_copy, warm
):
    seed = seeds_copy / SEED
    text = seed.read_text(encoding="utf-8")
    assert text.count(OLD_SENTENCE) == 1
    seed.write_text(text.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")

    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    assert encoder.paragraphs.embedded_count == 1
    assert any(NEW_SENTENCE in p.sentences for p in retriever.passages)
    assert retriever.ask("Are the purges obvious?").answered


def test_a_new_seed_file_embeds_only_its_own_paragraphs(
    model, config, seeds_copy, cache_copy, warm
):
    (seeds_copy / "001_turkey.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    assert encoder.paragraphs.embedded_count == 2
    answer = retriever.ask("Where did the earthquake strike?")
    assert answer.hits[0].passage.article.source == "001_turkey.txt"


def test_vectors_of_another_model_are_not_reused(model, small_model, cache_copy, warm):
    paragraphs = list(warm[1].articles[0].paragraphs[:3])
    assert ParagraphStore(model, model.name, cache_copy).embed(paragraphs) == 0
    assert ParagraphStore(small_model, "some-other-model", cache_copy).embed(paragraphs) == 3


def test_without_a_cache_everything_is_embedded_every_time(small_model, config, seeds_copy, warm):
    for _ in range(2):
        retriever, encoder = build(small_model, config, seeds_copy, None)
        assert encoder.paragraphs.embedded_count == len(paragraphs_of(retriever))


def sentences_as_paragraphs(retriever: Retriever) -> list[str]:
    return sorted({s for p in retriever.passages for s in p.sentences})


def test_an_interrupted_embedding_keeps_its_finished_batches(small_model, tmp_path, warm):
    paragraphs = sentences_as_paragraphs(warm[1])[:10]
    store = ParagraphStore(small_model, MINILM, tmp_path)

    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.embed(paragraphs, stop_after_two_batches, batch=2)
    again = ParagraphStore(small_model, MINILM, tmp_path)
    assert again.embed(paragraphs) == len(set(paragraphs)) - 4


def _stored_paragraphs(cache: Path) -> int:
    try:
        with sqlite3.connect(cache / "embeddings.sqlite3") as db:
            return db.execute("SELECT COUNT(*) FROM paragraph_embeddings").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


INDEX_IN_SMALL_BATCHES = """
import sys
import retrieval.model.late_chunking as late
late.BATCH_PARAGRAPHS = 2
from bot.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_during_a_build_loses_at_most_the_batch_in_flight(tmp_path):
    """A real `python -m bot index` killed with SIGKILL while it embeds; the rerun resumes."""
    seeds, cache = tmp_path / "seeds", tmp_path / "cache"
    seeds.mkdir()
    header = (ROOT / "seeds" / SEED).read_text(encoding="utf-8").split("\n")[0]
    sentences = [
        s for line in (ROOT / "seeds" / SEED).read_text(encoding="utf-8").split("\n")[1:]
        for s in line.split(". ") if s.strip()
    ]  # fmt: skip
    for n in range(4):  # four articles, one paragraph per sentence, each with its own words
        body = "\n\n".join(f"{s.strip()} Copy {n}." for s in sentences)
        (seeds / f"{n:03d}.txt").write_text(f"{header}\n\n{body}\n", encoding="utf-8")
    total = 4 * len(sentences)
    config = tmp_path / "config.yaml"
    config.write_text(f"corpus:\n  seeds_dir: {seeds}\n  cache_dir: {cache}\n{SMALL}")
    command = [sys.executable, "-c", INDEX_IN_SMALL_BATCHES, "index", "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while _stored_paragraphs(cache) < 6 and time.monotonic() < deadline:
            assert child.poll() is None, "the build ended before it could be killed"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    kept = _stored_paragraphs(cache)
    assert 6 <= kept < total
    rerun = subprocess.run(
        [*command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{total - kept} paragraphs embedded" in rerun.stdout
    assert "4 articles" in rerun.stdout


def test_the_index_command_names_the_indexes_other_settings_left(tmp_path):
    """Another passage setting builds an index of its own; the first stays (a second
    configuration may use it), and `index` says how much room such folders take."""
    cache = tmp_path / "cache"
    runs = []
    for stride in (1, 2):
        config = tmp_path / f"stride{stride}.yaml"
        config.write_text(
            f"corpus:\n  seeds_dir: {ROOT / 'seeds'}\n  cache_dir: {cache}\n"
            f"retrieval:\n  stride: {stride}\n  model: {MINILM}\n"
        )
        runs.append(
            subprocess.run(
                [sys.executable, "-m", "bot", "index", "--config", str(config)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )  # fmt: skip
        )
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    first, second = (" ".join(r.stdout.split()) for r in runs)  # as wrapped at $COLUMNS
    assert "other index folder" not in first
    assert "0 paragraphs embedded" in second  # the cache serves the second index
    assert re.search(r"1 other index folder in \S+ \([\d,]+ MiB\)", second)
    assert len([f for f in (cache / "index").iterdir() if f.is_dir()]) == 2
