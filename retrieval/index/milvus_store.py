"""The connection to Milvus and its collections (retrieval.index.milvus uses it): every call that
fails becomes EngineUnavailable, in one line, and the next call connects again.

Four collections per `milvus.collection_prefix`:
- `<prefix>passages`: one row per passage (what the candidates are searched in);
- `<prefix>sentences`: one row per sentence (more when its word pieces do not fit one row):
  its text, what full scoring reads of it, packed (retrieval.index.milvus.pack_sentence), and
  its own vector;
- `<prefix>articles`: one row per article fully written (its fingerprint), and one row
  `settings` with the index's settings;
- `<prefix>catalogue`: what the bot keeps in memory (retrieval.index.milvus_catalogue), in
  parts, and the row `current` naming the parts of the one in use (written last).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# milvus_lite imports pkg_resources, which warns on every start that it is deprecated: a line
# about the library's packaging the user can do nothing about.
warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
from pymilvus import (  # noqa: E402 - after the filter above
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
    RRFRanker,
)

from retrieval.index.search import CandidateQuery, EngineUnavailable  # noqa: E402

log = logging.getLogger(__name__)
# pymilvus logs each failed connection on its own (a line in its own format, with a stack for
# some); the bot says it once, in its words (EngineUnavailable), so its lines are kept out.
for _name in ("pymilvus", "pymilvus.milvus_client"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
CONNECT_SECONDS = 10.0  # how long a server that does not answer is waited for
# Per call: pymilvus retries a failed call 75 times (3.5 minutes) unless given a whole number
# of seconds; a question waits this long at most before it is told the store is unreachable.
CALL_SECONDS = 8

SETTINGS_ROW = "settings"
CURRENT_ROW = "current"  # of the catalogue: which parts are the one in use
BATCH = 256  # rows per insert: well under Milvus's 64 MB message limit at any text length
MAX_TEXT = 65535  # Milvus's VARCHAR limit, in bytes
PART_BYTES = 49_000  # packed bytes per sentence row: their base64 stays under MAX_TEXT
RRF_K = 60


class EngineMismatch(ValueError):
    """The collections were written with other index settings; str() says which, in one line."""


@dataclass(frozen=True)
class EngineConfig:
    uri: str
    token: str  # "" for none (Milvus Lite, a server without authentication)
    prefix: str


class MilvusStore:
    """The connection and the three collections; every call that fails is EngineUnavailable."""

    def __init__(self, config: EngineConfig, settings: dict[str, Any], dimension: int) -> None:
        """Raises EngineUnavailable (cannot reach it) or EngineMismatch (other settings)."""
        self.config, self.settings, self.dimension = config, settings, dimension
        self.passages_name = f"{config.prefix}passages"
        self.articles_name = f"{config.prefix}articles"
        self.sentences_name = f"{config.prefix}sentences"
        self.catalogue_name = f"{config.prefix}catalogue"
        self._lock = threading.Lock()
        self._client: MilvusClient | None = None
        with self._calling("open"):
            self._create()
        self._check_settings()

    @property
    def client(self) -> MilvusClient:
        """Connected on first use and again after a failure (the server restarted)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    kwargs = {"token": self.config.token} if self.config.token else {}
                    self._client = MilvusClient(
                        uri=self.config.uri, timeout=CONNECT_SECONDS, **kwargs
                    )
        return self._client

    def _calling(self, what: str) -> _Calling:
        return _Calling(self, what)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing a dead connection: nothing left to do
                log.debug("closing Milvus: %s", exc)

    def _create(self) -> None:
        client, wait = self.client, CALL_SECONDS
        if not client.has_collection(self.passages_name, timeout=wait):
            client.create_collection(
                self.passages_name,
                schema=self._passage_schema(),
                index_params=self._indexes(),
                timeout=wait,
            )
        for name, size in ((self.articles_name, 4096), (self.catalogue_name, MAX_TEXT)):
            if not client.has_collection(name, timeout=wait):
                schema = MilvusClient.create_schema(auto_id=False)
                schema.add_field("key", DataType.VARCHAR, max_length=64, is_primary=True)
                schema.add_field("value", DataType.VARCHAR, max_length=size)
                schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants one
                index = MilvusClient.prepare_index_params()
                index.add_index("unused", index_type="FLAT", metric_type="L2")
                client.create_collection(name, schema=schema, index_params=index, timeout=wait)
        if not client.has_collection(self.sentences_name, timeout=wait):
            client.create_collection(
                self.sentences_name, schema=self._sentence_schema(),
                index_params=self._vector_index(), timeout=wait,
            )  # fmt: skip
        names = (self.passages_name, self.articles_name, self.sentences_name, self.catalogue_name)
        for name in names:
            client.load_collection(name, timeout=wait)

    def _sentence_schema(self) -> Any:
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, max_length=96, is_primary=True)  # key:n:part
        schema.add_field("article", DataType.VARCHAR, max_length=64)
        schema.add_field("parts", DataType.INT64)  # rows of this sentence
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)  # in its first row
        schema.add_field("data", DataType.VARCHAR, max_length=MAX_TEXT)  # base64, packed
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)  # its own
        return schema

    def _vector_index(self) -> Any:
        index = MilvusClient.prepare_index_params()
        # AUTOINDEX: Milvus Lite has no HNSW; a server picks its own (docs/scaling.md).
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        return index

    def _passage_schema(self) -> Any:
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("article", DataType.VARCHAR, max_length=64)
        schema.add_field("number", DataType.INT64)
        analyzer = {"type": "english"}
        schema.add_field(
            "text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
            analyzer_params=analyzer,
        )  # fmt: skip
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        for name in ("day", "event_first", "event_last"):
            schema.add_field(name, DataType.INT64)
        schema.add_function(
            Function(
                name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )  # fmt: skip
        return schema

    def _indexes(self) -> Any:
        index = self._vector_index()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        return index

    def _check_settings(self) -> None:
        wanted = json.dumps(self.settings, sort_keys=True)
        with self._calling("read the settings"):
            rows = self.client.get(
                self.articles_name,
                ids=[SETTINGS_ROW],
                output_fields=["value"],
                timeout=CALL_SECONDS,
            )
            if not rows:
                self._put_record(SETTINGS_ROW, wanted)
                return
        found = json.loads(rows[0]["value"])
        differ = sorted(k for k in self.settings.keys() | found.keys()
                        if self.settings.get(k) != found.get(k))  # fmt: skip
        if differ:
            said = ", ".join(
                f"{k} {found.get(k)!r} there, {self.settings.get(k)!r} here" for k in differ
            )
            raise EngineMismatch(
                f"Milvus collection {self.passages_name} at {self.config.uri} was written with"
                f" other index settings ({said}); set another milvus.collection_prefix or drop"
                " the collections"
            )

    def _put_record(self, key: str, value: str, collection: str | None = None) -> None:
        row = {"key": key, "value": value, "unused": [0.0, 0.0]}
        self.client.upsert(collection or self.articles_name, [row], timeout=CALL_SECONDS)

    def put_catalogue(self, data: bytes) -> None:
        """The catalogue in parts under a name of its own, then `current` naming them (a
        reader sees the old one or the new one whole), then the old one's parts removed."""
        name = hashlib.sha256(data).hexdigest()[:16]
        encoded = base64.b64encode(data).decode("ascii")
        parts = [encoded[at : at + MAX_TEXT] for at in range(0, max(len(encoded), 1), MAX_TEXT)]
        with self._calling("write the catalogue"):
            old = self._current()
            if old and old["name"] == name:
                return
            for start in range(0, len(parts), BATCH // 8):
                rows = [{"key": f"{name}:{n}", "value": part, "unused": [0.0, 0.0]}
                        for n, part in enumerate(parts) if start <= n < start + BATCH // 8]  # fmt: skip
                self.client.upsert(self.catalogue_name, rows, timeout=CALL_SECONDS)
            current = json.dumps({"name": name, "parts": len(parts)})
            self._put_record(CURRENT_ROW, current, self.catalogue_name)
            if old:
                self.client.delete(self.catalogue_name, filter=f'key like "{old["name"]}:%"',
                                   timeout=CALL_SECONDS)  # fmt: skip

    def _current(self) -> dict[str, Any] | None:
        rows = self.client.get(
            self.catalogue_name, ids=[CURRENT_ROW], output_fields=["value"],
            consistency_level="Strong", timeout=CALL_SECONDS,
        )  # fmt: skip
        return json.loads(rows[0]["value"]) if rows else None

    def catalogue_name_now(self) -> str | None:
        """The name of the catalogue in use (None: nothing written yet)."""
        with self._calling("read the catalogue"):
            current = self._current()
        return current["name"] if current else None

    def catalogue(self) -> tuple[str, bytes] | None:
        """(its name, the catalogue in use), or None when nothing was written yet."""
        for _attempt in range(3):  # a writer may replace it between the two reads
            with self._calling("read the catalogue"):
                current = self._current()
                if current is None:
                    return None
                keys = [f"{current['name']}:{n}" for n in range(current["parts"])]
                rows = []
                for start in range(0, len(keys), BATCH // 8):
                    rows += self.client.get(
                        self.catalogue_name, ids=keys[start : start + BATCH // 8],
                        output_fields=["value"], consistency_level="Strong", timeout=CALL_SECONDS,
                    )  # fmt: skip
            if len(rows) == len(keys):
                parts = {row["key"]: row["value"] for row in rows}
                data = base64.b64decode("".join(parts[k] for k in keys))
                return current["name"], data
        raise EngineUnavailable(
            f"cannot read the catalogue in Milvus at {self.config.uri}: it keeps changing"
        )

    def written(self) -> dict[str, str]:
        """Article key -> fingerprint, of every article fully written."""
        found: dict[str, str] = {}
        with self._calling("read the articles"):
            iterator = self.client.query_iterator(
                self.articles_name, batch_size=1000, filter=f'key != "{SETTINGS_ROW}"',
                output_fields=["key", "value"], timeout=CALL_SECONDS,
            )  # fmt: skip
            while batch := iterator.next():
                found.update((row["key"], row["value"]) for row in batch)
            iterator.close()
        return found

    def remove(self, keys: Sequence[str]) -> None:
        """The records first (the articles are invisible from then on), then their passages."""
        with self._calling("remove articles"):
            self.client.delete(self.articles_name, ids=list(keys), timeout=CALL_SECONDS)
            self._delete_passages(keys)

    def write(self, records: dict[str, str], rows: list[dict], sentences: list[dict]) -> None:
        """Some articles' passages and sentences (what a write cut short left goes first),
        then their records (key -> fingerprint): an article is visible only once all of it
        is in."""
        with self._calling("write articles"):
            self._delete_passages(list(records))
            for name, all_rows in ((self.passages_name, rows), (self.sentences_name, sentences)):
                for start in range(0, len(all_rows), BATCH):
                    batch = all_rows[start : start + BATCH]
                    self.client.insert(name, batch, timeout=CALL_SECONDS)
            made = [{"key": k, "value": v, "unused": [0.0, 0.0]} for k, v in records.items()]
            self.client.upsert(self.articles_name, made, timeout=CALL_SECONDS)

    def _delete_passages(self, keys: Sequence[str]) -> None:
        if keys:  # the keys are hex digests: nothing in them needs quoting
            listed = ", ".join(f'"{k}"' for k in keys)
            for name in (self.passages_name, self.sentences_name):
                self.client.delete(name, filter=f"article in [{listed}]", timeout=CALL_SECONDS)

    def sentences(self, ids: Sequence[str]) -> dict[str, bytes]:
        """The packed data of sentences ("<article key>:<number>"), by id; a sentence whose
        article is not (or no longer) written is missing."""
        found: dict[str, list[tuple[int, str]]] = {}
        with self._calling("read sentences"):
            wanted = [f"{i}:0" for i in ids]
            while wanted:
                rows = self.client.get(
                    self.sentences_name, ids=wanted, output_fields=["parts", "data"],
                    consistency_level="Strong", timeout=CALL_SECONDS,
                )  # fmt: skip
                wanted = []
                for row in rows:
                    sentence, part = row["id"].rsplit(":", 1)
                    found.setdefault(sentence, []).append((int(part), row["data"]))
                    if part == "0":  # the rest of a long sentence, in a second call
                        wanted += [f"{sentence}:{p}" for p in range(1, int(row["parts"]))]
        return {
            i: b"".join(base64.b64decode(data) for _p, data in sorted(parts))
            for i, parts in found.items()
        }

    def sentence_texts(self, ids: Sequence[str]) -> dict[str, str]:
        """The text of sentences ("<article key>:<number>"), by id; missing ones are left."""
        with self._calling("read sentences"):
            rows = self.client.get(
                self.sentences_name, ids=[f"{i}:0" for i in ids], output_fields=["text"],
                consistency_level="Strong", timeout=CALL_SECONDS,
            )  # fmt: skip
        return {row["id"].rsplit(":", 1)[0]: row["text"] for row in rows}

    def search(self, query: CandidateQuery, k: int, within: str) -> list[tuple[str, int]]:
        """(article key, passage number) of the passages nearest to the question."""
        vector = [np.asarray(query.vector, np.float32).tolist()]
        requests = [AnnSearchRequest(vector, "vector", {"metric_type": "IP"}, k, expr=within)]
        if any(c.isalnum() for c in query.text):  # BM25 of an empty text is refused
            bm25 = {"metric_type": "BM25"}
            requests.append(AnnSearchRequest([query.text], "sparse", bm25, k, expr=within))
        with self._calling("search"):
            found = self.client.hybrid_search(
                self.passages_name, requests, RRFRanker(RRF_K), limit=min(2 * k, 16384),
                output_fields=["article", "number"], consistency_level="Strong",
                timeout=CALL_SECONDS,
            )  # fmt: skip
        return [(hit["entity"]["article"], int(hit["entity"]["number"])) for hit in found[0]]


class _Calling:
    """Around a call to Milvus: a failure becomes EngineUnavailable (one line) and drops the
    connection, so the next call connects again."""

    def __init__(self, store: MilvusStore, what: str) -> None:
        self.store, self.what = store, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, _tb) -> bool:  # noqa: ANN001
        if exc is None or not isinstance(exc, MilvusException | OSError | RuntimeError):
            return False
        self.store.close()
        reason = getattr(exc, "message", None) or str(exc) or kind.__name__
        first = reason.strip().splitlines()[0] if reason.strip() else kind.__name__
        uri = self.store.config.uri
        if "Open local milvus failed" in first:  # Milvus Lite runs one process per file
            first += " (Milvus Lite serves one process per file: is another bot using it?)"
        raise EngineUnavailable(f"cannot {self.what} in Milvus at {uri}: {first}") from None


def sentence_rows(
    key: str, number: int, packed: bytes, vector: np.ndarray, text: str
) -> list[dict]:
    """The rows of one sentence: its packed data in base64, PART_BYTES at a time, its text in
    the first."""
    parts = [packed[at : at + PART_BYTES] for at in range(0, max(len(packed), 1), PART_BYTES)]
    listed = np.asarray(vector, np.float32).tolist()
    return [
        {"id": f"{key}:{number}:{p}", "article": key, "parts": len(parts),
         "data": base64.b64encode(part).decode("ascii"), "vector": listed,
         "text": text.encode()[:MAX_TEXT].decode(errors="ignore") if p == 0 else ""}
        for p, part in enumerate(parts)
    ]  # fmt: skip


__all__ = ["EngineConfig", "EngineMismatch", "MilvusStore", "sentence_rows"]
