"""Token-level matching (MaxSim): paraphrases that share no words with the article still land."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.embeddings import Embedding
from retrieval.late_interaction import TokenIndex


def embedding(tokens: list[str], rows: list[list[float]]) -> Embedding:
    matrix = np.array(rows, dtype=np.float32).reshape(len(tokens), 2)
    return Embedding(np.array([1.0, 0.0], np.float32), tuple(tokens), matrix)


def test_each_query_piece_takes_its_best_match_weighted_by_rarity():
    documents = [
        embedding(["a", "b"], [[1, 0], [0, 1]]),
        embedding(["a"], [[1, 0]]),
        embedding([], []),  # a passage with no content pieces scores nothing, and breaks nothing
    ]
    index = TokenIndex(documents)
    query = embedding(["a", "b"], [[1, 0], [0, 1]])
    scores = index.scores(query)
    # "b" is rarer than "a" (one document against two), so it weighs more.
    weight_a, weight_b = index.idf("a"), index.idf("b")
    assert weight_b > weight_a
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(weight_a / (weight_a + weight_b))
    assert scores[2] == pytest.approx(0.0)
    assert list(np.argsort(-scores)) == [0, 1, 2]


def test_a_question_without_content_pieces_scores_zero():
    index = TokenIndex([embedding(["a"], [[1, 0]])])
    assert index.scores(embedding([], [])) == pytest.approx([0.0])


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
