"""The Telegram bot, run for real against a fake Bot API server on 127.0.0.1.

Every test drives the real Application (handlers, rate limiter, polling or webhook) with the
real retrieval layer (the session `retriever`) over HTTP; nothing reaches Telegram. Waits are
bounded: the fake server's waits default to 20 s and each test has a pytest timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bot.runtime
from bot.answer_format import NO_ANSWER
from bot.config import AppConfig, ConfigError, WebhookSettings
from bot.telegram.app import build_application, run_telegram, serve
from bot.telegram.local_api import FakeBotApi, Sent
from bot.telegram.local_api.running import pointed_at
from bot.telegram.local_api.running import running_bot as bot_running
from bot.telegram.secrets import read_token

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "987654321:AAHfake-Token_for_tests_0123456789abcdef"
USERNAME = "NewsTestBot"
ARREST = "Who did Tokayev order to arrest?"
FRANCE = "What is the capital of France?"


# ------------------------------------------------------------------------------ harness


def run(coro: Any, timeout: float = 100) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Wrapped:
    """The session retriever, optionally slowed down or failing, counting its calls."""

    def __init__(self, inner: Any, *, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.inner = inner
        self.articles = inner.articles
        self.delay = delay
        self.fail_on = fail_on
        self.started = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def ask(self, question: str) -> Any:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            if self.fail_on and self.fail_on in question:
                raise RuntimeError("retrieval exploded")
            time.sleep(self.delay)
            return self.inner.ask(question)
        finally:
            with self.lock:
                self.active -= 1


@dataclass
class Harness:
    server: FakeBotApi
    config: AppConfig
    app: Any = None

    def private(self, user_id: int = 111, name: str = "Ann") -> tuple[dict, dict]:
        user = self.server.user(user_id, name)
        return user, self.server.private_chat(user)

    async def ask(self, text: str, user_id: int = 111) -> Sent:
        user, chat = self.private(user_id)
        return await self.server.wait_reply(self.server.send_text(chat, user, text))


@contextlib.asynccontextmanager
async def running_bot(
    retriever: Any, config: AppConfig, *, secret: str | None = None, **telegram: Any
) -> AsyncIterator[Harness]:
    """The fake server and the bot (build_application + serve) running in this event loop."""
    async with FakeBotApi(TOKEN, username=USERNAME) as server:
        cfg = pointed_at(config, server, **telegram)
        async with bot_running(cfg, retriever, TOKEN, secret=secret) as app:
            yield Harness(server, cfg, app)


def question_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.telegram" and r.getMessage().startswith("question ")
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """The fake server in a thread of its own, for tests that run `run_telegram` itself."""

    def __init__(self, token: str = TOKEN) -> None:
        self.server = FakeBotApi(token, username=USERNAME)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.wait(self.server.start(), 10)
        return self

    def wait(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @staticmethod
    async def _cancel_the_rest() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def in_loop() -> Any:
            return fn(*args)

        return self.wait(in_loop())

    def __exit__(self, *exc: object) -> None:
        self.wait(self.server.stop(), 10)
        self.wait(self._cancel_the_rest(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# ------------------------------------------------------------------------------ start-up


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "bogus", "123456", "abc:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", f"{TOKEN} x"],
)
def test_missing_or_malformed_token_is_a_config_error(config, value):
    env = {} if value is None else {"TELEGRAM_BOT_TOKEN": value}
    with pytest.raises(ConfigError) as caught:
        read_token(config.telegram, env)
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in message and "\n" not in message
    if value and value.strip():
        assert value.strip() not in message


def test_token_is_read_from_the_configured_variable(config):
    settings = config.telegram.model_copy(update={"token_env": "MY_BOT_TOKEN"})
    assert read_token(settings, {"MY_BOT_TOKEN": f"  {TOKEN}\n"}) == TOKEN
    with pytest.raises(ConfigError, match="MY_BOT_TOKEN"):
        read_token(settings, {"TELEGRAM_BOT_TOKEN": TOKEN})


@pytest.mark.parametrize("value", [None, "bogus-token-value"])
def test_cli_stops_on_a_bad_token_before_loading_anything(tmp_path, value):
    """One line, exit 2; --seeds points nowhere, so reaching the corpus would fail differently."""
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["HF_HUB_OFFLINE"] = "1"
    if value is not None:
        env["TELEGRAM_BOT_TOKEN"] = value
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "telegram", "--seeds", str(tmp_path / "nowhere")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "seed" not in lines[0].lower() and "nowhere" not in lines[0]
    if value:
        assert value not in proc.stderr
    assert proc.stdout == ""
    assert time.monotonic() - started < 30


def test_webhook_mode_needs_a_public_url_and_a_secret(config, monkeypatch, tmp_path):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    nowhere = tmp_path / "nowhere"  # loading the corpus would raise a SeedError instead
    no_url = config.model_copy(
        update={"telegram": config.telegram.model_copy(update={"mode": "webhook"})}
    )
    with pytest.raises(ConfigError, match="public_url"):
        run_telegram(no_url, seeds_dir=nowhere)
    webhook = WebhookSettings(public_url="https://bot.example.org/telegram")
    no_secret = config.model_copy(
        update={
            "telegram": config.telegram.model_copy(update={"mode": "webhook", "webhook": webhook})
        }
    )
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        run_telegram(no_secret, seeds_dir=nowhere)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "not valid!")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        run_telegram(no_secret, seeds_dir=nowhere)


def test_rejected_token_is_a_config_error_without_the_token(config, retriever, monkeypatch, caplog):
    monkeypatch.setattr(bot.runtime, "open_retriever", lambda *a, **k: retriever)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    other = "111111111:AAHanother-token-the-server-knows-0123456"
    with ServerThread(other) as st:
        cfg = pointed_at(config, st.server)
        with pytest.raises(ConfigError) as caught:
            run_telegram(cfg)
    assert "rejected" in str(caught.value) and "TELEGRAM_BOT_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert TOKEN not in caplog.text


def test_unreachable_api_at_start_up_exits_1_with_a_message(config, retriever, monkeypatch, caplog):
    monkeypatch.setattr(bot.runtime, "open_retriever", lambda *a, **k: retriever)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    port = free_port()  # nothing listens there
    settings = config.telegram.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}/bot", "retries": 0}
    )
    assert run_telegram(config.model_copy(update={"telegram": settings})) == 1
    assert any("could not run the bot" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_after_answering_the_question_in_flight(
    config, retriever, monkeypatch, sig
):
    """run_telegram itself: model loaded once before polling; a signal mid-answer still answers."""
    slow = Wrapped(retriever, delay=1.5)
    loaded_at: list[float] = []

    def open_retriever(*args: Any, **kwargs: Any) -> Wrapped:
        loaded_at.append(time.monotonic())
        return slow

    monkeypatch.setattr(bot.runtime, "open_retriever", open_retriever)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    problems: list[str] = []
    with ServerThread() as st:
        server = st.server
        user = st.call(server.user, 5, "Sig")
        chat = st.call(server.private_chat, user)

        def driver() -> None:
            try:
                st.wait(server.wait_call("getUpdates"))
                st.call(server.send_text, chat, user, ARREST)
                if not slow.started.wait(20):
                    problems.append("retrieval never started")
                handler = signal.getsignal(sig)
                if handler in (signal.SIG_DFL, signal.default_int_handler, None):
                    problems.append(f"no handler for {sig.name}")
                    import _thread

                    _thread.interrupt_main()
                    return
                os.kill(os.getpid(), sig)
            except Exception as exc:  # reported below; the bot is then stopped by a signal
                problems.append(repr(exc))
                os.kill(os.getpid(), sig)

        thread = threading.Thread(target=driver)
        thread.start()
        started = time.monotonic()
        try:
            rc = run_telegram(pointed_at(config, server))
        except KeyboardInterrupt:
            pytest.fail(f"KeyboardInterrupt reached the caller: {problems}")
        thread.join(20)
        assert not problems, problems
        assert rc == 0
        assert time.monotonic() - started < 30
        sent = server.sent_to(chat["id"])
        assert len(sent) == 1 and "Masimov" in sent[0].text  # answered, once, in full
        assert all(c.ok for c in server.calls_to("sendMessage"))
        assert len(server.update_ids) == 1
        (update_id,) = server.update_ids.values()
        assert server.confirmed_offset > update_id  # acknowledged: a restart won't re-answer it
        assert len(loaded_at) == 1
        assert loaded_at[0] < server.calls_to("getUpdates")[0].at
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers handed back


# ------------------------------------------------------------------------------ commands


def test_start_help_sources_and_registered_commands(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            assert [c["command"] for c in server.commands] == [
                "ask",
                "timeline",
                "sources",
                "follow",
                "following",
                "whoami",
                "help",
                "start",
            ]
            start = await bot.ask("/start")
            title = retriever.articles[0].title
            assert title in start.text and "8 January 2022" in start.text
            examples = [line[2:] for line in start.text.splitlines() if line.startswith("• What")]
            assert len(examples) == 2
            for example in examples:  # the suggested questions do get answers
                reply = await bot.ask(example)
                assert not reply.text.startswith(NO_ANSWER) and "8 January 2022" in reply.text
            help_ = await bot.ask("/help")
            for word in ("/ask", "/sources", "More", "group", "500 characters", f"@{USERNAME}"):
                assert word in help_.text
            sources = await bot.ask("/sources")
            assert "1 article" in sources.text and title in sources.text
            assert "8 January 2022" in sources.bold()
            unknown = await bot.ask("/frobnicate")
            assert "/help" in unknown.text

    run(scenario())


def test_register_commands_failure_does_not_stop_the_bot(retriever, config, caplog):
    async def scenario() -> None:
        async with FakeBotApi(TOKEN, username=USERNAME) as server:
            server.fail("setMyCommands", status=400, description="Bad Request: nope")
            cfg = pointed_at(config, server)
            app = build_application(cfg, retriever, TOKEN)
            stop = asyncio.Event()
            task = asyncio.create_task(serve(app, cfg, stop=stop, handle_signals=False))
            user = server.user(7)
            reply = await server.wait_reply(
                server.send_text(server.private_chat(user), user, ARREST)
            )
            assert "Masimov" in reply.text
            assert server.calls_to("setMyCommands")[0].status == 400
            stop.set()
            await asyncio.wait_for(task, 30)

    run(scenario())
    assert any("setMyCommands" in r.getMessage() for r in caplog.records)
