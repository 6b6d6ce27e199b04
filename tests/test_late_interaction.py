"""Token-level matching (MaxSim): paraphrases that share no words with the article still land."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.index.search import passage_scores, piece_weights, sentence_maxsim
from retrieval.model.embeddings import Embedding


def embedding(tokens: list[str], rows: list[list[float]]) -> Embedding:
    matrix = np.array(rows, dtype=np.float32).reshape(len(tokens), 2)
    return Embedding(np.array([1.0, 0.0], np.float32), tuple(tokens), matrix)


def token_scores(query: Embedding, passages: list[list[list[float]]], df: list[int]) -> np.ndarray:
    """Each passage one sentence: MaxSim of the query's pieces (ids 0, 1, ...) against it."""
    tokens = np.array([row for p in passages for row in p], np.float32).reshape(-1, 2)
    counts = np.array([len(p) for p in passages])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    best = sentence_maxsim(query, tokens, starts, counts)
    weights = piece_weights(range(len(query.tokens)), np.array(df), len(passages))
    count = len(passages)
    token, _, _ = passage_scores(
        query,
        weights,
        best,
        np.zeros(count),
        np.ones((count, 2)),
        np.arange(count),
        np.ones(count, int),
    )
    return token


def test_each_query_piece_takes_its_best_match_weighted_by_rarity():
    # "a" is in two passages and "b" in one; the third has no content pieces.
    passages = [[[1, 0], [0, 1]], [[1, 0]], []]
    query = embedding(["a", "b"], [[1, 0], [0, 1]])
    scores = token_scores(query, passages, df=[2, 1])
    weight_a, weight_b = piece_weights([0, 1], np.array([2, 1]), 3)
    assert weight_b > weight_a  # the rarer piece weighs more
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(weight_a)
    assert scores[2] == pytest.approx(0.0)  # scores nothing, and breaks nothing
    assert list(np.argsort(-scores)) == [0, 1, 2]


def test_a_question_without_content_pieces_scores_zero():
    assert token_scores(embedding([], []), [[[1, 0]]], df=[1]) == pytest.approx([0.0])


@pytest.mark.parametrize(
    ("question", "gold"),
    [
        ("What was the profession of the president's father?", "son of a writer"),
        ("In which conflicts did the president act as an international go-between?", "Syria"),
        ("Did the Kazakh leader suspect that the unrest was a putsch?", "attempted coup"),
    ],
)
def test_paraphrases_reach_their_passage(retriever, question, gold):
    # Neither BM25 nor the pooled sentence vector ranks these first; token matching does.
    answer = retriever.ask(question)
    assert answer.answered
    assert gold in answer.hits[0].passage.text
