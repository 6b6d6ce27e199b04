"""Retrieval settings with their defaults; the YAML loader in bot.config validates into these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    # Unknown keys are errors: a typo in the YAML must not silently fall back to a default.
    # Strict types: "5", 5.0 or "yes" where a number or true/false belongs is a mistake to
    # report, not to guess at (a whole number is still a valid float).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoAnswerSettings(Strict):
    min_similarity: float = Field(0.27, ge=-1.0, le=1.0)
    min_similarity_with_terms: float = Field(0.20, ge=-1.0, le=1.0)
    min_term_coverage: float = Field(0.5, ge=0.0, le=1.0)


class RetrievalSettings(Strict):
    max_sentences: int = Field(3, ge=1, le=10)
    stride: int = Field(1, ge=1, le=10)
    model: str | None = None
    # auto: the precision measured fastest on this machine at install (retrieval.model.kernels).
    precision: Literal["auto", "int8", "fp32"] = "auto"
    sentence_weight: float = Field(0.5, ge=0.0, le=1.0)
    token_weight: float = Field(1.0, ge=0.0, le=1.0)
    fusion: Literal["weighted", "rrf"] = "weighted"
    lexical_weight: float = Field(0.1, ge=0.0, le=1.0)
    rrf_k: int = Field(60, ge=1, le=1000)
    fuzzy_min_score: float = Field(80.0, ge=50.0, le=100.0)
    max_results: int = Field(10, ge=1, le=100)
    dates: bool = True
    date_weight: float = Field(5.0, ge=0.0, le=100.0)
    when_weight: float = Field(1.0, ge=0.0, le=100.0)
    when_highlight_margin: float = Field(0.15, ge=0.0, le=2.0)
    latest_share: float = Field(0.7, ge=0.0, le=1.0)
    # two_stage: cheap candidates over every passage (BM25, nearest sentences), then the full
    # scoring of those; exhaustive: the full scoring of every passage (slow past 1,000 articles).
    search: Literal["two_stage", "exhaustive"] = "two_stage"
    candidates: int = Field(100, ge=1, le=10000)  # from BM25 and from the nearest sentences each
    sample: int = Field(256, ge=1, le=10000)  # passages scored with every question, to normalise
    no_answer: NoAnswerSettings = NoAnswerSettings()

    @model_validator(mode="after")
    def _stride_fits_window(self) -> RetrievalSettings:
        if self.stride > self.max_sentences:
            raise ValueError("stride must not exceed max_sentences, or sentences would be skipped")
        return self


class IndexSettings(Strict):
    # local: the index on this machine (memory-mapped files beside the cache); milvus: the
    # candidates from a Milvus server or Milvus Lite (the `milvus` extra; docs/scaling.md).
    engine: Literal["local", "milvus"] = "local"


class MilvusSettings(Strict):
    # A file path (*.db) runs Milvus Lite; http(s)://host:19530 reaches a standalone or cluster.
    uri: str = Field("../.cache/milvus.db", min_length=1, max_length=2000)
    token_env: str = Field("MILVUS_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Milvus collection names: a letter or underscore, then letters, digits, underscores.
    collection_prefix: str = Field("newsbot_", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")

    @model_validator(mode="after")
    def _lite_or_server(self) -> MilvusSettings:
        if "\0" in self.uri:
            raise ValueError("uri must not contain a NUL character")
        if not (self.is_server or self.uri.endswith(".db")):
            raise ValueError("uri must be a Milvus Lite file ending in .db or http(s)://host:port")
        return self

    @property
    def is_server(self) -> bool:
        return self.uri.startswith(("http://", "https://", "tcp://"))
