"""Running it as a service (bot.ops): /healthz, /readyz and /metrics read over HTTP from the
real bot against the local Bot API server, in polling mode (a listener of their own) and in
webhook mode (the webhook server); JSON log lines; the systemd unit. Every wait is bounded."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError, LoggingSettings, OpsSettings, WebhookSettings
from bot.ops.logs import JsonFormatter, configure_logging, progress_stream
from bot.ops.metrics import FRONT_ENDS, OUTCOMES
from bot.telegram.webhook import SECRET_HEADER
from retrieval.index.layout import SENTENCE_CODES
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from tests.test_telegram import ARREST, FRANCE, TOKEN, free_port, run, running_bot

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
USER, OTHER = 734512987, 861230457  # ids no number in /metrics happens to contain
SECRET = "s3cret-webhook_token-for-ops"
# The label values /metrics may hold: fixed words, never a question, an id or a token.
METHODS = {"getMe", "sendMessage", "setMyCommands", "setWebhook", "answerCallbackQuery"}
KNOWN_LABELS = {*OUTCOMES, *FRONT_ENDS, *METHODS}


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
        return response.status, await response.text()


async def wait_until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Polls the coroutine function `check` until it returns something true; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await check():
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics body, by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def questions(text: str, outcome: str) -> float:
    key = ("newsbot_questions_total", (("front_end", "telegram"), ("outcome", outcome)))
    return samples(text)[key]


def assert_nothing_private(text: str, *private: str) -> None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, value in sample.labels.items():
                if name in ("front_end", "outcome", "method"):
                    assert value in KNOWN_LABELS, (sample.name, name, value)
    for value in (TOKEN, TOKEN.partition(":")[2], SECRET, str(USER), str(OTHER), *private):
        assert value not in text, value


async def metrics_after(base: str, replies: int) -> str:
    """/metrics once `replies` questions are counted (a reply reaches the server a moment
    before the bot, back from sending it, counts it)."""
    reply_count = ("newsbot_reply_seconds_count", (("front_end", "telegram"),))

    async def counted() -> str | None:
        status, text = await get(base + "/metrics")
        return text if status == 200 and samples(text)[reply_count] == replies else None

    return await wait_until(counted, f"{replies} questions counted", 10)


async def readiness(base: str, ready: bool) -> str | None:
    status, body = await get(base + "/readyz")
    return body if (status == 200) == ready else None


async def lose_and_regain_the_bot_api(server: Any, base: str) -> None:
    """The Bot API server away: not ready, saying why; back: ready again."""
    outage = asyncio.create_task(server.go_offline(4.0))
    reason = await wait_until(lambda: readiness(base, False), "not ready while offline", 15)
    assert reason.startswith("not ready: the Bot API has not answered for ")
    assert reason.count("\n") == 1
    await outage
    assert await wait_until(lambda: readiness(base, True), "ready again", 20) == "ready\n"


@pytest.fixture
def live(config, model, seeds_copy, tmp_path, warm_cache) -> LiveRetriever:
    encoder = Encoder(model, DEFAULT_MODEL, warm_cache(tmp_path / "cache"))
    retriever = LiveRetriever(
        seeds_copy, config.retrieval, encoder, index_root=tmp_path / "cache" / "index"
    )
    yield retriever
    retriever.stop()


def test_polling_mode_health_readiness_and_metrics(live, config):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ops = OpsSettings(port=port, api_contact_seconds=1.5)
    cfg = config.model_copy(update={"ops": ops})
    long_question = "Who " + "really " * 100 + "was arrested?"

    async def scenario() -> None:
        async with running_bot(live, cfg, rate_limit_count=2) as bot:
            assert await get(base + "/healthz") == (200, "ok\n")
            assert await get(base + "/readyz") == (200, "ready\n")
            status, before = await get(base + "/metrics")
            assert status == 200 and questions(before, "answered") == 0
            assert "Masimov" in (await bot.ask(ARREST, USER)).text
            await bot.ask(FRANCE, USER)
            await bot.ask(long_question, USER)
            assert "faster than I can answer" in (await bot.ask(ARREST, USER)).text
            assert "Masimov" in (await bot.ask(ARREST, OTHER)).text
            after = await metrics_after(base, 5)
            found = samples(after)
            assert questions(after, "answered") == 2
            assert questions(after, "refused") == 2  # no answer; too long
            assert questions(after, "rate_limited") == 1
            assert questions(after, "error") == 0
            assert found[("newsbot_retrieval_seconds_count", (("front_end", "telegram"),))] == 3
            assert found[("newsbot_index_articles", ())] == len(live.articles)
            assert found[("newsbot_index_passages", ())] == len(live.passages) > 0
            assert 0 <= found[("newsbot_index_generation_age_seconds", ())] < 3600
            assert found[("newsbot_seed_files_skipped", ())] == 0
            assert_nothing_private(after, ARREST, FRANCE, "Masimov", long_question[:20])

            # The index made unreadable: not ready, saying why; rebuilt: ready again.
            os.truncate(live.index.folder / SENTENCE_CODES, 0)
            status, body = await get(base + "/readyz")
            assert status == 503 and "index generation in use is unreadable" in body
            assert body.count("\n") == 1
            await wait_until(lambda: readiness(base, True), "ready after the rebuild")
            _, rebuilt = await get(base + "/metrics")
            assert samples(rebuilt)[("newsbot_index_updates_total", ())] == 1

            await lose_and_regain_the_bot_api(bot.server, base)

    run(scenario(), timeout=150)


def test_webhook_mode_serves_them_on_the_webhook_server(retriever, config, monkeypatch, caplog):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    webhook = WebhookSettings(
        port=port, url_path="tg-hook", public_url=f"http://127.0.0.1:{port}/tg-hook"
    )
    cfg = config.model_copy(update={"ops": OpsSettings(api_contact_seconds=1.5)})

    async def scenario() -> None:
        async with running_bot(retriever, cfg, mode="webhook", webhook=webhook) as bot:
            assert await get(base + "/healthz") == (200, "ok\n")
            assert await get(base + "/readyz") == (200, "ready\n")
            assert "Masimov" in (await bot.ask(ARREST, USER)).text
            bot.server.fail("sendMessage", status=429, retry_after=1)  # flood control, once
            await bot.ask(FRANCE, USER)
            body = await metrics_after(base, 2)
            assert questions(body, "answered") == 1 and questions(body, "refused") == 1
            found = samples(body)
            assert found[("newsbot_telegram_retry_after_waits_total", ())] == 1
            assert found[("newsbot_telegram_retry_after_seconds_total", ())] == 1
            assert_nothing_private(body, ARREST, FRANCE)
            assert bot.server.calls_to("getUpdates") == []
            # The webhook path still refuses a body without the secret.
            async with aiohttp.ClientSession() as http:
                response = await http.post(base + "/tg-hook", json={}, headers={SECRET_HEADER: "x"})
                assert response.status == 403
            await lose_and_regain_the_bot_api(bot.server, base)
            _, body = await get(base + "/metrics")  # the heartbeat's getMe met the outage
            assert samples(body)[("newsbot_telegram_retries_total", (("method", "getMe"),))] >= 1
            assert_nothing_private(body, ARREST, FRANCE)

    with caplog.at_level(logging.INFO, logger="bot.telegram"):
        run(scenario(), timeout=120)
    # The question's line carries its fields for JSON logs; formatted, it is one object.
    (record,) = [r for r in caplog.records if r.getMessage().startswith("question ")][:1]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["update_id"] > 0 and entry["chat_id"] == USER and entry["latency_ms"] >= 0
    assert entry["level"] == "info" and entry["logger"] == "bot.telegram"


def test_ops_port_taken_is_one_config_line(retriever, config):
    taken = __import__("socket").socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    cfg = config.model_copy(update={"ops": OpsSettings(port=taken.getsockname()[1])})

    async def scenario() -> None:
        async with running_bot(retriever, cfg):
            pass

    with taken, pytest.raises(ConfigError, match=r"^key 'ops.port': cannot listen on 127\.0"):
        run(scenario())


def test_json_logs_are_one_object_a_line_and_redacted():
    from bot.telegram.secrets import redact_secrets

    redact_secrets(TOKEN)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root, bot_logger = logging.getLogger(), logging.getLogger("bot")
    level = bot_logger.level
    root.addHandler(handler)
    try:
        configure_logging(LoggingSettings(format="json", level="debug"))
        assert bot_logger.level == logging.DEBUG
        log = logging.getLogger("bot.telegram")
        log.info("question update_id=5 chat_id=7", extra={"update_id": 5, "chat_id": 7})
        try:
            raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/sendMessage failed\nline 2")
        except RuntimeError:
            log.exception("sending with %s failed", TOKEN)
    finally:
        root.removeHandler(handler)
        bot_logger.setLevel(level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "update_id", "chat_id"}
    assert first["time"].endswith("+00:00") and first["update_id"] == 5
    assert second["level"] == "error" and "line 2" in second["error"]
    assert TOKEN.partition(":")[2] not in stream.getvalue()
    assert "<redacted-token>" in second["message"] and "<redacted-token>" in second["error"]


def test_json_logs_take_the_index_build_progress_as_records(caplog):
    from bot.progress import BuildReporter

    assert progress_stream(LoggingSettings()) is sys.stderr
    report = BuildReporter(progress_stream(LoggingSettings(format="json")), terminal=False)
    with caplog.at_level(logging.INFO, logger="bot.index"):
        report("embedding", 0, 10)
        report("embedding", 10, 10)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.index"]
    assert lines and all(line.startswith("index: ") for line in lines)


def test_logging_settings_are_checked(tmp_path):
    from bot.config import load_config

    path = tmp_path / "bot.yaml"
    path.write_text("logging: {format: xml}\nops: {port: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "key 'logging.format': must be 'text' or 'json', got 'xml'" in str(error.value)
    assert "key 'ops.port': must be at least 1, got 0" in str(error.value)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_unit_verifies(tmp_path):
    unit = (ROOT / "deploy" / "newsbot.service").read_text(encoding="utf-8")
    for needed in ("Restart=on-failure", "EnvironmentFile=", "User=newsbot", "ProtectSystem=strict",
                   "ReadWritePaths=/var/cache/newsbot"):  # fmt: skip
        assert needed in unit
    # ExecStart must name an executable that exists here: this project's.
    here = tmp_path / "newsbot.service"
    here.write_text(unit.replace("/opt/newsbot/.venv/bin/newsbot", str(ROOT / ".venv/bin/newsbot")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(here)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
