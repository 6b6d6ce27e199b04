"""HTTP GET for feeds and article pages: http(s) only, a timeout, a size limit, conditional GET.

urllib from the standard library: one request at a time is all importing and polling need."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from retrieval.files import os_problem

TIMEOUT_SECONDS = 20.0
MAX_BYTES = 20 * 1024 * 1024  # a feed or a page; a larger answer is no news item
USER_AGENT = "newsbot/0.1 (feed reader)"


class FetchError(Exception):
    """A URL that gave nothing usable; str() is one line without the URL (the caller names it)."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 when the conditional GET found nothing new
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """GET the URL; with etag/last_modified from an earlier answer, a 304 when unchanged."""
    if not is_url(url):
        raise FetchError("not an http:// or https:// URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
            headers, status = response.headers, response.status
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(304, b"", "", etag, last_modified)
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise FetchError(
            os_problem(reason) if isinstance(reason, OSError) else str(reason)
        ) from None
    except TimeoutError:
        raise FetchError(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:  # a connection reset mid-body, a malformed URL
        raise FetchError(os_problem(exc)) from None
    if len(body) > max_bytes:
        raise FetchError(f"the answer is larger than {max_bytes // 2**20} MiB")
    return Fetched(
        status, body, _content_type(headers), headers.get("ETag"), headers.get("Last-Modified")
    )


def _content_type(headers: Message) -> str:
    return headers.get_content_type() if headers.get("Content-Type") else ""
