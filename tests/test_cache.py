"""The embedding cache: a restart embeds nothing, an edit embeds only what changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import load_corpus
from retrieval.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever

SEED = "000_bf7e3f6dcec9099b.txt"
OLD_SENTENCE = "They are not obvious purges."
NEW_SENTENCE = "They are certainly not obvious purges."

NEW_ARTICLE = """date 2023-02-06 Earthquake strikes southern Turkey

A magnitude 7.8 earthquake struck southern Turkey near the Syrian border before dawn on Monday.

Rescue teams searched collapsed buildings in Gaziantep and Kahramanmaras for survivors.
"""


def texts_of(retriever: Retriever) -> set[str]:
    """Every text the retriever embeds: its passages and their sentences."""
    return {p.text for p in retriever.passages} | {
        s for p in retriever.passages for s in p.sentences
    }


def build(model, config, seeds: Path, cache: Path | None) -> tuple[Retriever, Encoder]:
    encoder = Encoder(model, DEFAULT_MODEL, cache)
    return Retriever(load_corpus(seeds), config.retrieval, encoder), encoder


@pytest.fixture(scope="module")
def warm(model, config, tmp_path_factory):
    """A cache filled by a first build over the bundled seeds: (cache dir, retriever, count)."""
    seeds = tmp_path_factory.mktemp("warm-seeds")
    shutil.copy(Path(__file__).resolve().parent.parent / "seeds" / SEED, seeds / SEED)
    cache = tmp_path_factory.mktemp("warm-cache")
    retriever, encoder = build(model, config, seeds, cache)
    return cache, retriever, encoder.embedded_count


@pytest.fixture
def cache_copy(warm, tmp_path) -> Path:
    """A private copy of the warm cache, so tests that add vectors don't affect each other."""
    target = tmp_path / "cache"
    shutil.copytree(warm[0], target)
    return target


def test_first_build_embeds_every_passage_and_sentence(warm):
    cache, retriever, count = warm
    assert count == len(texts_of(retriever))
    assert count > len(retriever.passages) > 10
    assert (cache / "embeddings.sqlite3").is_file()


def test_unchanged_seeds_embed_nothing(model, config, seeds_copy, cache_copy, warm):
    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    assert encoder.embedded_count == 0
    # The cached vectors are the ones the first build computed, and they still answer.
    assert np.allclose(retriever.passage_vectors, warm[1].passage_vectors)
    assert np.allclose(retriever.sentence_vectors, warm[1].sentence_vectors)
    answer = retriever.ask("Who did President Tokayev order to be arrested?")
    assert "Karim Masimov" in answer.hits[0].passage.text


def test_cached_vectors_equal_fresh_ones(model, warm, cache_copy):
    _, retriever, _ = warm
    texts = [p.text for p in retriever.passages[:3]]
    cached = Encoder(model, DEFAULT_MODEL, cache_copy)
    fresh = Encoder(model, DEFAULT_MODEL, None)
    for old, new in zip(cached.encode_corpus(texts), fresh.encode_corpus(texts), strict=True):
        assert np.allclose(old.vector, new.vector, atol=1e-5)
        assert old.tokens == new.tokens and len(old.tokens) > 5
        assert np.allclose(old.token_vectors, new.token_vectors, atol=1e-5)
    assert cached.embedded_count == 0
    assert fresh.embedded_count == 3


def test_editing_one_sentence_embeds_only_what_holds_it(
    model, config, seeds_copy, cache_copy, warm
):
    seed = seeds_copy / SEED
    text = seed.read_text(encoding="utf-8")
    assert text.count(OLD_SENTENCE) == 1
    seed.write_text(text.replace(OLD_SENTENCE, NEW_SENTENCE), encoding="utf-8")

    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    holding = [p for p in retriever.passages if NEW_SENTENCE in p.sentences]
    assert 1 <= len(holding) <= config.retrieval.max_sentences
    assert encoder.embedded_count == len(holding) + 1  # those passages and the sentence itself
    assert encoder.embedded_count * 10 < warm[2]
    assert retriever.ask("Are the purges obvious?").answered


def test_a_new_seed_file_embeds_only_its_own_texts(model, config, seeds_copy, cache_copy, warm):
    (seeds_copy / "001_turkey.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    retriever, encoder = build(model, config, seeds_copy, cache_copy)
    new = [p for p in retriever.passages if p.article.source == "001_turkey.txt"]
    new_texts = {p.text for p in new} | {s for p in new for s in p.sentences}
    assert encoder.embedded_count == len(new_texts) > 0
    assert encoder.embedded_count < warm[2]
    answer = retriever.ask("Where did the earthquake strike?")
    assert answer.hits[0].passage.article.source == "001_turkey.txt"


def test_vectors_of_another_model_are_not_reused(model, cache_copy, warm):
    texts = [p.text for p in warm[1].passages[:3]]
    same = Encoder(model, DEFAULT_MODEL, cache_copy)
    same.encode_corpus(texts)
    assert same.embedded_count == 0
    other = Encoder(model, "some-other-model", cache_copy)
    other.encode_corpus(texts)
    assert other.embedded_count == 3


def test_without_a_cache_everything_is_embedded_every_time(model, warm):
    texts = [p.text for p in warm[1].passages[:2]]
    encoder = Encoder(model, DEFAULT_MODEL, None)
    first = encoder.encode_corpus(texts)
    second = encoder.encode_corpus(texts)
    assert encoder.embedded_count == 4
    for one, two in zip(first, second, strict=True):
        assert np.allclose(one.vector, two.vector, atol=1e-5)


def test_a_text_without_content_pieces_comes_back_from_the_cache(model, tmp_path):
    # Only stop words: no word piece is kept for token matching, and the cache must cope.
    texts = ["It is what it is.", "Tokayev orders an arrest."]
    first = Encoder(model, DEFAULT_MODEL, tmp_path).encode_corpus(texts)
    again = Encoder(model, DEFAULT_MODEL, tmp_path)
    cached = again.encode_corpus(texts)
    assert again.embedded_count == 0
    assert cached[0].tokens == () and cached[0].token_vectors.shape == (0, len(first[0].vector))
    assert cached[1].tokens == first[1].tokens
