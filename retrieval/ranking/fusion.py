"""Fusing two score vectors over the same passages into one ranking score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stats:
    """Mean and standard deviation of a score over the corpus (or over a sample of it)."""

    mean: float
    std: float

    @classmethod
    def of(cls, scores: np.ndarray) -> Stats:
        if not scores.size:
            return cls(0.0, 0.0)
        return cls(float(scores.mean()), float(scores.std()))

    def z(self, scores: np.ndarray) -> np.ndarray:
        """Scores as standard deviations from the mean; no spread carries no signal, 0."""
        if self.std < 1e-12:
            return np.zeros_like(scores, dtype=np.float64)
        return (scores - self.mean) / self.std


def z_score(scores: np.ndarray) -> np.ndarray:
    """Scores as standard deviations from their mean; all-equal scores carry no signal, 0."""
    spread = float(scores.std()) if scores.size else 0.0
    if spread < 1e-12:
        return np.zeros_like(scores, dtype=np.float64)
    return (scores - scores.mean()) / spread


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score, best first (ties keep corpus order)."""
    order = np.argsort(-scores, kind="stable")
    result = np.empty(len(scores), dtype=np.int64)
    result[order] = np.arange(1, len(scores) + 1)
    return result


def reciprocal_rank_fusion(
    lexical: np.ndarray, dense: np.ndarray, *, k: int = 60, lexical_weight: float = 0.5
) -> np.ndarray:
    """Cormack et al. (2009): sum of w / (k + rank); a ranker with no signal adds nothing."""
    fused = np.zeros(len(dense), dtype=np.float64)
    for scores, weight in ((lexical, lexical_weight), (dense, 1.0 - lexical_weight)):
        if np.ptp(scores) > 0:
            fused += weight / (k + ranks(scores))
    return fused


def weighted_sum(
    lexical: np.ndarray, dense: np.ndarray, *, lexical_weight: float = 0.5
) -> np.ndarray:
    """Convex combination of z-scored scores.

    z-scores rather than min-max: one BM25 outlier would squash every other passage to near 0.
    """
    return lexical_weight * z_score(lexical) + (1.0 - lexical_weight) * z_score(dense)


def fuse(
    method: str,
    lexical: np.ndarray,
    dense: np.ndarray,
    *,
    lexical_weight: float,
    rrf_k: int,
    lexical_stats: Stats | None = None,
    dense_stats: Stats | None = None,
    lexical_ranks: np.ndarray | None = None,
) -> np.ndarray:
    """Fused scores of the passages given. When only some passages are scored (candidates),
    the stats and ranks say where they stand in the whole corpus: the weighted sum z-scores
    with the corpus's mean and spread, and RRF takes BM25 ranks among every passage."""
    if method == "rrf":
        if lexical_ranks is None:
            return reciprocal_rank_fusion(lexical, dense, k=rrf_k, lexical_weight=lexical_weight)
        fused = np.zeros(len(dense), dtype=np.float64)
        if np.ptp(lexical) > 0 if len(lexical) else False:
            fused += lexical_weight / (rrf_k + lexical_ranks)
        if np.ptp(dense) > 0 if len(dense) else False:
            fused += (1.0 - lexical_weight) / (rrf_k + ranks(dense))
        return fused
    if method == "weighted":
        if lexical_stats is None or dense_stats is None:
            return weighted_sum(lexical, dense, lexical_weight=lexical_weight)
        return lexical_weight * lexical_stats.z(lexical) + (1.0 - lexical_weight) * dense_stats.z(
            dense
        )
    raise ValueError(f"unknown fusion method {method!r}")
