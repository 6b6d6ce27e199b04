"""The Telegram bot, run for real against a fake Bot API server on 127.0.0.1.

Every test drives the real Application (handlers, rate limiter, polling or webhook) with the
real retrieval layer (the session `retriever`) over HTTP; nothing reaches Telegram. Waits are
bounded: the fake server's waits default to 20 s and each test has a pytest timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from telegram import Update
from telegram.error import InvalidToken

import bot.runtime
from bot.answer_format import NO_ANSWER
from bot.config import AppConfig, ConfigError, WebhookSettings
from bot.telegram.app import build_application, run_telegram, serve
from bot.telegram.guards import REFUSAL
from bot.telegram.handlers import FAILURE, NON_TEXT_HINT
from bot.telegram.paging import ALREADY_SHOWN, EXPIRED
from bot.telegram.secrets import read_token
from bot.telegram.store import QuestionStore
from retrieval.corpus import load_corpus
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever
from tests.bot_api_server import ApiError, FakeBotApi, Sent, parse_html

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


def configured(config: AppConfig, server: FakeBotApi, **telegram: Any) -> AppConfig:
    settings = config.telegram.model_copy(
        update={"base_url": server.base_url, "base_file_url": server.base_file_url, **telegram}
    )
    return config.model_copy(update={"telegram": settings})


@contextlib.asynccontextmanager
async def running_bot(
    retriever: Any, config: AppConfig, *, secret: str | None = None, **telegram: Any
) -> AsyncIterator[Harness]:
    """The fake server and the bot (build_application + serve) running in this event loop."""
    async with FakeBotApi(TOKEN, username=USERNAME) as server:
        cfg = configured(config, server, **telegram)
        app = build_application(cfg, retriever, TOKEN)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            serve(app, cfg, webhook_secret=secret, stop=stop, ready=ready, handle_signals=False)
        )
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()  # raises what made start-up fail
        assert ready.is_set(), "the bot did not start within 20 s"
        try:
            yield Harness(server, cfg, app)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


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
        cfg = configured(config, st.server)
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
            rc = run_telegram(configured(config, server))
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
            cfg = configured(config, server)
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


# ------------------------------------------------------------------------------ questions


def test_question_is_answered_with_passage_date_and_bold_sentence(retriever, config, caplog):
    caplog.set_level(logging.INFO, logger="bot.telegram")

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask(ARREST, user_id=42)
            server = bot.server
            assert "Masimov" in reply.text and "8 January 2022" in reply.text
            assert retriever.articles[0].title in reply.text
            assert any("Masimov" in b for b in reply.bold()), reply.html
            assert reply.params["parse_mode"] == "HTML" and len(reply.text) <= 4096
            assert "\n\nAlso from this article:\n2. " in reply.text and "\n3. " in reply.text
            assert reply.text.count(retriever.articles[0].title) == 1  # one title line
            total = len(retriever.ask(ARREST).hits)
            assert [b["text"] for b in reply.buttons] == [f"More ({total - 3} passages)"]
            typing = [c for c in server.calls_to("sendChatAction") if c.params["chat_id"] == 42]
            assert typing and typing[0].params["action"] == "typing"
            assert typing[0].at <= reply.at

    run(scenario())
    lines = question_lines(caplog)
    assert len(lines) == 1
    for part in ("chat_id=42", "user_id=42", "answered=true", "passages=3", "latency_ms="):
        assert part in lines[0]
    assert ARREST not in caplog.text  # log_message_text is off by default


def test_question_text_is_logged_only_when_configured(retriever, config, caplog):
    caplog.set_level(logging.INFO, logger="bot.telegram")

    async def scenario() -> None:
        async with running_bot(retriever, config, log_message_text=True) as bot:
            await bot.ask(FRANCE)

    run(scenario())
    (line,) = question_lines(caplog)
    assert "answered=false" in line and "passages=0" in line and FRANCE in line


def test_no_answer_says_so_and_points_to_sources(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask(FRANCE)
            assert reply.text.startswith(NO_ANSWER) and "/sources" in reply.text
            assert reply.buttons == []

    run(scenario())


def test_more_button_pages_through_passages_then_expires(retriever, config):
    total = len(retriever.ask(ARREST).hits)
    assert total > 6, "the bundled article should give more than two pages"

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            first = await bot.ask(ARREST)
            button = first.buttons[0]["callback_data"]
            q1 = server.press(first, button, user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            assert (await server.wait_answered(q1)).get("text") is None
            assert page.text.startswith(f"More for “{ARREST}”:")
            assert "4. " in page.text and "6. " in page.text and "7. " not in page.text
            assert "8 January 2022" in page.text and len(page.text) <= 4096
            stored = server.messages[(chat["id"], first.message["message_id"])]
            await server.wait_for(lambda: "reply_markup" not in stored, 10, "the old button gone")
            left = total - 6
            assert [b["text"] for b in page.buttons] == [
                f"More ({left} passage{'s' if left != 1 else ''})"
            ]
            next_button = page.buttons[0]["callback_data"]
            q2 = server.press(page, next_button, user)
            (_, _, last) = await server.wait_sent(chat["id"], 3)
            await server.wait_answered(q2)
            assert "7. " in last.text and last.buttons == []
            # The first button again: nothing new, a note instead.
            q3 = server.press(first, button, user)
            assert (await server.wait_answered(q3))["text"] == ALREADY_SHOWN
            # Unknown or expired buttons.
            q4 = server.press(first, "more:AAAAAAAA:3", user)
            assert (await server.wait_answered(q4))["text"] == EXPIRED
            q5 = server.press(first, "something-else", user)
            assert (await server.wait_answered(q5))["text"] == EXPIRED
            # Another chat cannot page through this chat's answer.
            other, other_chat = bot.private(222, "Bob")
            q6 = server.press({**first.message, "chat": other_chat}, next_button, other)
            assert (await server.wait_answered(q6))["text"] == EXPIRED
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 3 and server.sent_to(other_chat["id"]) == []
            for q in (q1, q2, q3, q4, q5, q6):
                assert len(server.answers_to(q)) == 1

    run(scenario())


def test_question_store_is_bounded():
    store = QuestionStore(max_size=3)
    keys = [store.add(object()) for _ in range(5)]  # type: ignore[arg-type]
    assert len(store) == 3
    assert store.get(keys[0]) is None and store.get(keys[-1]) is not None


def test_group_rules(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            group = server.group_chat(-100500)
            ann, bob = server.user(301, "Ann"), server.user(302, "Bob", "bob_reader")
            # Chatter first: none of it is for the bot.
            chatter = [
                server.send_text(group, ann, ARREST),
                server.send_text(group, bob, "/ask@OtherBot " + ARREST),
                server.send_text(group, ann, "@someone_else where did the riots begin?"),
            ]
            chatter.append(
                server.send_text(group, bob, "Where did the riots begin?", reply_to=chatter[0])
            )
            chatter.append(server.send_sticker(group, ann))
            ask = server.send_text(group, ann, "/ask " + ARREST)
            ask_at = server.send_text(
                group, bob, f"/ask@{USERNAME} Where did the riots over LPG prices begin?"
            )
            mention = server.send_text(
                group, ann, f"@{USERNAME} how many Russian soldiers arrived?"
            )
            empty = server.send_text(group, bob, "/ask")
            r_ask = await server.wait_reply(ask)
            assert "Masimov" in r_ask.text
            assert r_ask.message["reply_to_message"]["message_id"] == ask["message_id"]
            assert "Zhanaozen" in (await server.wait_reply(ask_at)).text
            assert "2,500" in (await server.wait_reply(mention)).text
            assert "after /ask" in (await server.wait_reply(empty)).text
            follow_up = server.send_text(
                group, bob, "Who exchanged jibes with Lavrov?", reply_to=r_ask.message
            )
            assert "Blinken" in (await server.wait_reply(follow_up)).text
            await asyncio.sleep(0.5)
            replied = {
                s.message.get("reply_to_message", {}).get("message_id")
                for s in server.sent_to(group["id"])
            }
            assert len(server.sent_to(group["id"])) == 5
            assert not replied & {m["message_id"] for m in chatter}

    run(scenario())


def test_follow_up_questions_are_read_with_the_last_question_of_that_chat(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            first = await bot.ask("Who is Karim Masimov?", user_id=201)
            assert "Masimov" in first.text and "last question" not in first.text
            follow = await bot.ask("What is he accused of?", user_id=201)
            assert follow.html.startswith(
                "<i>(taking “Karim Masimov” from your last question)</i>\n"
            )
            assert "High treason" in follow.text
            # Another chat has its own history: the same words there have nothing to lean on.
            alone = await bot.ask("What is he accused of?", user_id=202)
            assert "last question" not in alone.text

    run(scenario())


def test_question_in_another_script_gets_a_clear_reply(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask("Кого арестовали в Казахстане?")
            assert reply.text.startswith("I only understand questions in English")
            assert "Cyrillic" in reply.text and reply.buttons == []

    run(scenario())


def test_a_photo_caption_is_a_question(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            user, chat = bot.private(111)
            reply = await bot.server.wait_reply(bot.server.send_photo(chat, user, caption=ARREST))
            assert "Masimov" in reply.text and "8 January 2022" in reply.text

    run(scenario())


def test_an_edited_message_is_answered_not_a_crash(retriever, config, caplog):
    """Telegram sends edits only when asked to (we do not ask), but one must not break a
    handler: update.message is None for an edit."""

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            message = server.send_text(chat, user, "Who is Asamat Abdymomunov?")
            await server.wait_reply(message)
            edited = {**message, "text": ARREST, "edit_date": message["date"] + 5}
            edited.pop("entities", None)
            update = Update.de_json({"update_id": 99999, "edited_message": edited}, bot.app.bot)
            await bot.app.process_update(update)
            (_, reply) = await server.wait_sent(chat["id"], 2)
            assert "Karim Masimov" in reply.text

    run(scenario())
    assert "failed" not in caplog.text


def test_non_text_messages_get_a_hint(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            for send in (server.send_sticker, server.send_photo, server.send_voice):
                reply = await server.wait_reply(send(chat, user))
                assert reply.text == NON_TEXT_HINT
            group = server.group_chat(-100600)
            start = await server.wait_reply(server.send_text(group, user, "/start"))
            assert "/ask" in start.text  # the group greeting explains how to ask there
            server.send_sticker(group, user)  # not for the bot: ignored
            hint = await server.wait_reply(server.send_sticker(group, user, reply_to=start.message))
            assert hint.text == NON_TEXT_HINT
            await asyncio.sleep(0.3)
            assert len(server.sent_to(group["id"])) == 2

    run(scenario())


def test_html_hostile_question_is_escaped(retriever, config):
    hostile = "Who did <b>Tokayev</b> order to arrest & why </code>?"
    assert retriever.ask(hostile).answered

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            reply = await bot.ask(hostile)
            assert "Masimov" in reply.text
            server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            # The fake server parses HTML like Telegram: an unescaped "</code>" would be a 400.
            assert hostile in page.text  # the user sees their question as typed
            assert "&lt;b&gt;Tokayev&lt;/b&gt;" in page.html and "&lt;/code&gt;" in page.html
            assert " &amp; " in page.html
            nothing = await bot.ask("<script>alert(1)</script> & </code> <i>")
            assert nothing.text.startswith(NO_ANSWER)
            assert all(c.ok for c in server.calls_to("sendMessage"))

    run(scenario())


def test_fake_server_rejects_html_telegram_would_reject():
    for bad in ("<b>bold", "a & b", "x </code>", "<script>x</script>", "1 < 2", "2 > 1"):
        with pytest.raises(ApiError):
            parse_html(bad)
    text, entities = parse_html("<b>a &lt;b&gt;</b> &amp; <i>c</i>")
    assert text == "a <b> & c" and [e["type"] for e in entities] == ["bold", "italic"]


def test_long_empty_and_oversized_messages(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            long = await bot.ask("why " * 1249 + "why?")  # 5,000 characters
            assert "5,000 characters" in long.text and "at most 500" in long.text
            blank = await bot.ask("   \n  ")
            assert "Please type a question" in blank.text
            assert "Masimov" in (await bot.ask(ARREST)).text  # still fine afterwards

    run(scenario())


def test_replies_never_exceed_4096_characters(model, config, tmp_path):
    """A corpus of very long sentences, ten passages shown in full length: still one message."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    paragraphs = []
    for p in range(6):
        sentences = [
            f"The harbour crane number {p * 3 + s} lifted "
            + ", then ".join(f"container {n} of grain onto the ship" for n in range(40))
            + "."
            for s in range(3)
        ]
        paragraphs.append(" ".join(sentences))
    (seeds / "001_harbour.txt").write_text(
        "date 2023-05-01 Harbour cranes work overtime\n\n" + "\n\n".join(paragraphs) + "\n"
    )
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path / "cache")
    long_retriever = Retriever(load_corpus(seeds), config.retrieval, encoder)
    question = "Which harbour crane lifted containers of grain onto the ship?"
    answer = long_retriever.ask(question)
    assert answer.answered and len(answer.hits) >= 2
    assert len(answer.hits[0].passage.text) > 4096  # the best passage alone is too long

    async def scenario() -> None:
        async with running_bot(
            long_retriever, config, shown_passages=10, snippet_chars=1000, more_page_size=10
        ) as bot:
            user, chat = bot.private(111)
            reply = await bot.ask(question)
            assert "1 May 2023" in reply.text and 0 < len(reply.text) <= 4096
            bot.server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await bot.server.wait_sent(chat["id"], 2)
            assert "1 May 2023" in page.text and len(page.text) <= 4096
            assert all(c.ok for c in bot.server.calls_to("sendMessage"))

    run(scenario())


# ------------------------------------------------------------------------------ access


def test_allowlist_refuses_everyone_else(retriever, config):
    async def scenario() -> None:
        async with running_bot(
            retriever, config, allowed_user_ids=[111], allowed_chat_ids=[111, -100777]
        ) as bot:
            server = bot.server
            assert (await bot.ask(ARREST, user_id=222)).text == REFUSAL
            allowed = await bot.ask(ARREST, user_id=111)
            assert "Masimov" in allowed.text
            ann, bob = server.user(111, "Ann"), server.user(222, "Bob")
            good, bad = server.group_chat(-100777), server.group_chat(-100888)
            server.send_text(bad, ann, "just chatting")  # not addressed: silence, no refusal
            refused = await server.wait_reply(server.send_text(bad, ann, "/ask " + ARREST))
            assert refused.text == REFUSAL
            ok = await server.wait_reply(server.send_text(good, ann, "/ask " + ARREST))
            assert "Masimov" in ok.text
            nope = await server.wait_reply(server.send_text(good, bob, "/ask " + ARREST))
            assert nope.text == REFUSAL
            query = server.press(allowed, allowed.buttons[0]["callback_data"], bob)
            assert (await server.wait_answered(query))["text"] == REFUSAL
            await asyncio.sleep(0.3)
            assert len(server.sent_to(bad["id"])) == 1

    run(scenario())


def test_rate_limit_per_user(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config, rate_limit_count=2, rate_limit_seconds=60) as bot:
            assert "Masimov" in (await bot.ask(ARREST, user_id=1)).text
            assert (await bot.ask(FRANCE, user_id=1)).text.startswith(NO_ANSWER)
            third = await bot.ask(ARREST, user_id=1)
            assert "at most 2 questions per minute" in third.text and "try again" in third.text
            assert "Masimov" in (await bot.ask(ARREST, user_id=2)).text  # others unaffected
            assert "How to ask" in (await bot.ask("/help", user_id=1)).text  # not a question

    run(scenario())


# ------------------------------------------------------------------------------ robustness


def test_retry_after_from_the_server_still_delivers_one_reply(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            bot.server.fail("sendMessage", status=429, retry_after=1)
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text
            attempts = bot.server.calls_to("sendMessage")
            assert [c.status for c in attempts] == [429, 200]
            assert attempts[1].at - attempts[0].at >= 1.0  # it waited as told
            await asyncio.sleep(0.3)
            assert len(bot.server.sent) == 1

    run(scenario())


def test_polling_recovers_after_the_server_was_unreachable(retriever, config, caplog):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            await server.wait_call("getUpdates")
            outage = asyncio.create_task(server.go_offline(3))
            await asyncio.sleep(0.5)
            user, chat = bot.private(111)
            message = server.send_text(chat, user, ARREST)  # arrives while unreachable
            await outage
            back = time.monotonic()
            reply = await server.wait_reply(message)
            assert "Masimov" in reply.text and reply.at >= back
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 1

    run(scenario())
    assert any("cannot fetch updates" in r.getMessage() for r in caplog.records)


def test_reply_is_retried_when_the_server_drops_out_mid_answer(retriever, config, caplog):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            server.go_offline_on("sendChatAction", 2)  # reset, then refused for 2 s
            started = time.monotonic()
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text
            assert server.outages == 1 and reply.at - started >= 2
            await asyncio.sleep(0.3)
            assert len(server.sent) == 1

    run(scenario())
    assert any(
        r.getMessage().startswith("sendMessage failed") and "retry" in r.getMessage()
        for r in caplog.records
    )


def test_error_in_a_handler_is_logged_and_reported_and_the_bot_goes_on(retriever, config, caplog):
    failing = Wrapped(retriever, fail_on="boom")

    async def scenario() -> int:
        async with running_bot(failing, config) as bot:
            user, chat = bot.private(111)
            message = bot.server.send_text(chat, user, "boom: who was arrested?")
            assert (await bot.server.wait_reply(message)).text == FAILURE
            assert "Masimov" in (await bot.ask(ARREST)).text
            return bot.server.update_id_of(message)

    update_id = run(scenario())
    errors = [r for r in caplog.records if r.name == "bot.telegram" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"update_id={update_id}" in errors[0].getMessage()
    assert "retrieval exploded" in errors[0].exc_text


def test_retrieval_runs_off_the_event_loop_and_concurrently(retriever, config):
    slow = Wrapped(retriever, delay=1.0)

    async def scenario() -> None:
        async with running_bot(slow, config, workers=4) as bot:
            server = bot.server
            messages = []
            for n in range(4):
                user, chat = bot.private(500 + n, f"U{n}")
                messages.append(server.send_text(chat, user, ARREST))
            started = time.monotonic()
            helper, help_chat = bot.private(600)
            help_reply = await server.wait_reply(server.send_text(help_chat, helper, "/help"))
            replies = [await server.wait_reply(m) for m in messages]
            assert all("Masimov" in r.text for r in replies)
            assert help_reply.at < min(r.at for r in replies)  # not stuck behind retrieval
            assert max(r.at for r in replies) - started < 3.0  # serially it would take 4 s
            assert slow.max_active >= 2

    run(scenario())


def test_token_never_appears_in_logs(retriever, config, caplog):
    caplog.set_level(logging.DEBUG)
    failing = Wrapped(retriever, fail_on="boom")

    async def scenario() -> None:
        async with running_bot(failing, config) as bot:
            # Misconfigured logging on purpose: httpx logs every URL, which holds the token.
            caplog.set_level(logging.DEBUG, logger="httpx")
            caplog.set_level(logging.DEBUG, logger="httpcore")
            await bot.ask(ARREST)
            await bot.ask("boom")
            await bot.server.go_offline(1)
            await bot.ask(FRANCE)
            logging.getLogger("telegram.ext").error(
                "simulated", exc_info=InvalidToken(f"The token `{TOKEN}` was rejected")
            )

    run(scenario())
    assert "/bot<redacted-token>/sendMessage" in caplog.text  # URLs were logged, redacted
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")


# ------------------------------------------------------------------------------ webhook


def test_webhook_mode_answers_and_rejects_a_wrong_secret(retriever, config, monkeypatch):
    secret = "s3cret-webhook_token"
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
    port = free_port()
    webhook = WebhookSettings(
        listen="127.0.0.1",
        port=port,
        url_path="tg-hook",
        public_url=f"http://127.0.0.1:{port}/tg-hook",
    )

    async def scenario() -> None:
        async with running_bot(retriever, config, mode="webhook", webhook=webhook) as bot:
            server = bot.server
            assert server.webhook["url"] == f"http://127.0.0.1:{port}/tg-hook"
            assert server.webhook["secret_token"] == secret
            user, chat = bot.private(111)
            forged_message = {
                "message_id": 999,
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": "forged question",
            }
            forged = server.build_update({"message": forged_message})
            assert await server.post_webhook(forged, "wrong-secret") == 403
            assert await server.post_webhook(forged, None) == 403
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text and "8 January 2022" in reply.text
            server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            assert "4. " in page.text
            assert "Zhanaozen" in (await bot.ask("Where did the riots over LPG prices begin?")).text
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 3  # nothing for the forged update
            assert server.calls_to("getUpdates") == []
            assert {status for _, status in server.deliveries} == {200, 403}

    run(scenario())


def test_admins_reload_the_articles_and_others_may_not(config, model, seeds_copy, tmp_path):
    from retrieval.live import LiveRetriever
    from retrieval.model.embeddings import DEFAULT_MODEL, Encoder

    encoder = Encoder(model, DEFAULT_MODEL, tmp_path / "cache")
    live = LiveRetriever(
        seeds_copy, config.retrieval, encoder, index_root=tmp_path / "cache" / "index"
    )
    article = (
        "date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik\n\n"
        "The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight.\n"
    )

    async def scenario() -> None:
        async with running_bot(live, config, admin_user_ids=[7]) as bot:
            (seeds_copy / "001_iceland.txt").write_text(article, encoding="utf-8")
            refused = await bot.ask("/reload", user_id=8)
            assert "Only the bot's admins" in refused.text
            assert len(live.articles) == 1
            done = await bot.ask("/reload", user_id=7)
            assert done.text.startswith("Articles reloaded: 2 articles")
            assert "1 new" in done.text
            answer = await bot.ask("Why was Grindavik evacuated?", user_id=8)
            assert "Grindavik" in answer.text and "11 November 2023" in answer.text
            again = await bot.ask("/reload", user_id=7)
            assert again.text.startswith("The articles are up to date")

    run(scenario())
