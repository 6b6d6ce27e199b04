"""Score fusion on small hand-made score vectors."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.ranking.fusion import (
    fuse,
    ranks,
    reciprocal_rank_fusion,
    weighted_sum,
    z_score,
)


def order(scores: np.ndarray) -> list[int]:
    """Passage indices best first, the way the Retriever ranks them (stable on ties)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")]


a = np.array  # short hand for the tables below


# --- ranks ------------------------------------------------------------------------------------


def test_ranks_best_first_ties_in_corpus_order():
    assert list(ranks(a([0.1, 0.9, 0.5]))) == [3, 1, 2]
    assert list(ranks(a([1.0, 2.0, 1.0, 2.0]))) == [3, 1, 4, 2]


# --- weighted sum -----------------------------------------------------------------------------


def test_weighted_sum_orders_by_combined_evidence():
    lexical = a([0.0, 4.0, 8.0, 2.0])
    dense = a([0.9, 0.1, 0.5, 0.0])
    fused = weighted_sum(lexical, dense, lexical_weight=0.5)
    assert order(fused) == [2, 0, 1, 3]
    # All weight on one side gives exactly that side's order.
    assert order(weighted_sum(lexical, dense, lexical_weight=1.0)) == order(lexical)
    assert order(weighted_sum(lexical, dense, lexical_weight=0.0)) == order(dense)


def test_weighted_sum_with_all_zero_lexical_follows_embeddings():
    dense = a([0.0, 0.3, 0.8, 0.5])
    fused = weighted_sum(np.zeros(4), dense, lexical_weight=0.5)
    assert order(fused) == [2, 3, 1, 0]
    assert fused == pytest.approx(0.5 * z_score(dense))  # the silent ranker adds nothing


def test_weighted_sum_ties_keep_corpus_order():
    fused = weighted_sum(a([1.0, 1.0, 0.0]), a([0.5, 0.5, 0.0]), lexical_weight=0.5)
    assert fused[0] == pytest.approx(fused[1])
    assert order(fused) == [0, 1, 2]


def test_weighted_sum_equal_weights_are_symmetric():
    # Passage 0 is best on embeddings and worst on BM25, passage 1 the reverse: a tie.
    fused = weighted_sum(a([0.0, 1.0]), a([0.9, 0.5]), lexical_weight=0.5)
    assert fused[0] == pytest.approx(fused[1])


def test_z_score_centres_and_scales():
    assert z_score(a([1.0, 2.0, 3.0])) == pytest.approx([-1.2247449, 0.0, 1.2247449])
    assert z_score(a([4.0, 4.0])) == pytest.approx([0.0, 0.0])  # no spread, no signal
    assert z_score(a([])).shape == (0,)


# --- reciprocal rank fusion -------------------------------------------------------------------


def test_rrf_values_and_order():
    lexical = a([3.0, 1.0, 2.0])
    dense = a([0.1, 0.9, 0.5])
    fused = reciprocal_rank_fusion(lexical, dense, k=60, lexical_weight=0.5)
    expected = [0.5 / 61 + 0.5 / 63, 0.5 / 63 + 0.5 / 61, 0.5 / 62 + 0.5 / 62]
    assert fused == pytest.approx(expected)
    # Rank 1 + rank 3 beats rank 2 + rank 2 (1/x is convex): the middling passage comes last.
    assert fused[0] == fused[1] > fused[2]
    assert order(fused) == [0, 1, 2]


def test_rrf_all_zero_lexical_adds_nothing():
    dense = a([0.2, 0.7, 0.4])
    fused = reciprocal_rank_fusion(np.zeros(3), dense, k=60, lexical_weight=0.5)
    assert fused == pytest.approx([0.5 / 63, 0.5 / 61, 0.5 / 62])
    assert order(fused) == [1, 2, 0]


def test_rrf_both_flat_gives_no_preference():
    fused = reciprocal_rank_fusion(np.ones(3), np.zeros(3), k=60, lexical_weight=0.5)
    assert fused == pytest.approx([0.0, 0.0, 0.0])


def test_rrf_ties_keep_corpus_order_and_weight_matters():
    fused = reciprocal_rank_fusion(a([1.0, 1.0, 0.0]), np.zeros(3), k=60, lexical_weight=0.5)
    assert order(fused) == [0, 1, 2]
    lexical, dense = a([1.0, 0.0]), a([0.0, 1.0])
    assert order(reciprocal_rank_fusion(lexical, dense, k=60, lexical_weight=0.8)) == [0, 1]
    assert order(reciprocal_rank_fusion(lexical, dense, k=60, lexical_weight=0.2)) == [1, 0]


def test_rrf_k_flattens_rank_differences():
    lexical, dense = a([2.0, 1.0]), a([0.0, 0.0])
    small = reciprocal_rank_fusion(lexical, dense, k=1, lexical_weight=1.0)
    large = reciprocal_rank_fusion(lexical, dense, k=1000, lexical_weight=1.0)
    assert small[0] / small[1] > large[0] / large[1] > 1.0


# --- fuse -------------------------------------------------------------------------------------


def test_fuse_dispatches_and_rejects_unknown_methods():
    lexical, dense = a([0.0, 2.0, 1.0]), a([0.3, 0.1, 0.2])
    assert fuse("weighted", lexical, dense, lexical_weight=0.3, rrf_k=60) == pytest.approx(
        weighted_sum(lexical, dense, lexical_weight=0.3)
    )
    assert fuse("rrf", lexical, dense, lexical_weight=0.3, rrf_k=10) == pytest.approx(
        reciprocal_rank_fusion(lexical, dense, k=10, lexical_weight=0.3)
    )
    with pytest.raises(ValueError, match="unknown fusion method 'sum'"):
        fuse("sum", lexical, dense, lexical_weight=0.5, rrf_k=60)
