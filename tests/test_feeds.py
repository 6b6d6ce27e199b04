"""Feeds over HTTP (issue 18, item 0): `newsbot import URL` and the `corpus.feeds` poller against
a server of our own on 127.0.0.1 (http.server in a thread): conditional GET and its 304, a
failing server and the backoff after it, a server that never answers, and a running live
retriever indexing what the poller writes. No test reaches anything but 127.0.0.1."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import ConfigError, load_config
from bot.ingest.fetch import FetchError, fetch
from bot.ingest.poller import FeedPoller, updating
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder

DATA = Path(__file__).resolve().parent / "data" / "import"
ETAG = '"v1"'
MODIFIED = "Sat, 08 Jan 2022 12:00:00 GMT"


@dataclass
class Site:
    """What the server answers: path -> (status, body, content type), and what it was asked."""

    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stall: threading.Event = field(default_factory=threading.Event)
    url: str = ""


class Server(ThreadingHTTPServer):
    """The test server, which takes a client hanging up as the client's business: the poller
    gives up on /slow after its timeout, and the answer written later meets a closed socket
    (BrokenPipeError, ConnectionResetError), which socketserver would print as a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state.requests.append((self.path, dict(self.headers)))
            if self.path == "/slow":
                state.stall.wait(10)  # longer than the client's timeout
            status, body, kind = state.pages.get(self.path, (404, b"not here", "text/plain"))
            fresh = self.headers.get("If-None-Match") == ETAG
            if status == 200 and (fresh or self.headers.get("If-Modified-Since") == MODIFIED):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if status == 200 and self.path.startswith("/etag"):
                self.send_header("ETag", ETAG)
            if status == 200 and self.path.startswith("/modified"):
                self.send_header("Last-Modified", MODIFIED)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stall.set()
        server.shutdown()
        server.server_close()


RSS = (DATA / "feed.rss").read_bytes()
ICELAND_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Iceland declares emergency as volcano threatens Grindavik</title>
<link>http://127.0.0.1/volcano/grindavik</link><pubDate>Sat, 11 Nov 2023 01:15:00 +0000</pubDate>
<description>The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight
as magma moved under the Reykjanes peninsula.</description></item></channel></rss>"""


def test_import_from_urls_a_feed_and_an_article_page(site, tmp_path, capsys):
    site.pages["/feed"] = (200, RSS, "application/rss+xml")
    site.pages["/rail"] = (200, (DATA / "page.html").read_bytes(), "text/html; charset=utf-8")
    code = main(["import", f"{site.url}/feed", f"{site.url}/rail", f"{site.url}/gone",
                 "--out", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 2
    assert out.strip() == (
        f"Imported 3 articles into {tmp_path}; skipped 1 duplicate, 2 bad items; 1 source(s)"
        " not read."
    )
    assert err.splitlines()[-1] == f"newsbot: cannot import {site.url}/gone: HTTP 404 Not Found"
    assert err.splitlines()[0].startswith(f"newsbot: skipped {site.url}/feed, item 3 ")
    assert len(list(tmp_path.glob("2024-03-05_rail-link-to-the-coast-opens_*.txt"))) == 1


@pytest.mark.parametrize("path", ["/etag/feed", "/modified/feed"])
def test_the_poller_asks_conditionally_and_a_304_writes_nothing(site, tmp_path, path):
    site.pages[path] = (200, RSS, "application/rss+xml")
    state = tmp_path / "feeds.json"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    poller = FeedPoller([site.url + path], seeds, interval=60, state_file=state)
    assert len(poller.poll(poller.feeds[0])) == 2
    assert poller.poll(poller.feeds[0]) == []  # unchanged: a 304
    # A restart remembers the validators (the cache folder's feeds.json).
    again = FeedPoller([site.url + path], seeds, interval=60, state_file=state)
    assert again.poll(again.feeds[0]) == []
    sent = [headers for _, headers in site.requests]
    key = "If-None-Match" if "etag" in path else "If-Modified-Since"
    assert [h.get(key) for h in sent] == [None, *[ETAG if "etag" in path else MODIFIED] * 2]
    assert len(list(seeds.glob("*.txt"))) == 2


def test_a_failing_feed_is_one_line_and_backs_off(site, tmp_path, caplog):
    site.pages["/feed"] = (500, b"oops", "text/plain")
    site.pages["/junk"] = (200, b"<html><body>no feed</body></html>", "application/rss+xml")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    poller = FeedPoller(
        [f"{site.url}/feed", f"{site.url}/junk", f"{site.url}/slow"],
        seeds, interval=1800, timeout=0.5,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="bot.ingest.poller"):
        wait = poller.poll_due()
    assert [r.getMessage() for r in caplog.records] == [
        f"feed {site.url}/feed: HTTP 500 Internal Server Error; trying again in 1 min",
        f"feed {site.url}/junk: {site.url}/junk: not an RSS or Atom feed (no RSS or Atom"
        " element); trying again in 1 min",
        f"feed {site.url}/slow: no answer within 0.5 s; trying again in 1 min",
    ]
    assert 50 < wait <= 60
    assert [poller.retry_delay(n) for n in (1, 2, 3, 9, 20)] == [60, 120, 240, 14400, 14400]
    assert FeedPoller(["http://x"], seeds, interval=0.2).retry_delay(3) == pytest.approx(0.8)
    assert list(seeds.iterdir()) == []


def test_fetch_refuses_what_is_no_http(tmp_path):
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)"):
        with pytest.raises(FetchError, match="not an http:// or https:// URL"):
            fetch(url)


def test_feeds_in_the_config_are_checked(tmp_path):
    path = tmp_path / "bot.yaml"
    path.write_text("corpus:\n  feeds: [file:///etc/passwd]\n  feed_minutes: 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines()[1:] == [
        "  key 'corpus.feeds': must be a list of http:// or https:// URLs, not"
        " 'file:///etc/passwd', got ['file:///etc/passwd']",
        "  key 'corpus.feed_minutes': must be at least 1.0, got 0",
    ]


def test_a_running_live_retriever_indexes_what_the_poller_writes(
    site, model, config, seeds_copy, tmp_path
):
    """The poller and the seeds watcher as every front end starts them (bot.ingest.poller.
    updating: the console, Telegram and try-telegram; the first round at once), and the new
    article answering a question; both stopped at the end."""
    site.pages["/volcano"] = (200, ICELAND_RSS, "application/rss+xml")
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path / "cache")
    live = LiveRetriever(seeds_copy, config.retrieval, encoder, index_root=tmp_path / "index")
    corpus = config.corpus.model_copy(
        update={"feeds": [f"{site.url}/volcano"], "watch": True, "watch_seconds": 0.1}
    )
    before = set(threading.enumerate())
    with updating(config.model_copy(update={"corpus": corpus}), live):
        deadline = time.monotonic() + 120
        while len(live.articles) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        titles = {a.title for a in live.articles}
        assert "Iceland declares emergency as volcano threatens Grindavik" in titles
        best = live.ask("How many people live in Grindavik?").hits[0].passage
        assert best.article.date.isoformat() == "2023-11-11"
        assert "3,700" in best.text
    started = set(threading.enumerate()) - before
    assert not {t.name for t in started} & {"seeds-watcher", "feed-poller"}
    assert (Path(config.corpus.cache_dir) / "feeds.json").exists()
