"""One chat, whatever holds it: what the bot does with each line a user sends.

A ChatSession (one per console, one per Telegram chat) cleans and checks a question, reads a
follow-up with the last question, asks, pages with /more through the passages of an answer or
the events of a timeline, reloads, greets and helps. The console (bot.console) and Telegram
(bot.telegram) only turn keystrokes or updates into these calls, and Replies into their medium;
a Medium (bot.pages) says what differs between them (markup, sizes, a few words). A command
is added once, in COMMANDS, and both offer it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.answer_format import (
    example_questions,
    fit_answer,
    human_date,
    reload_message,
    render_sources,
    shorten,
)
from bot.follow import chat as follow
from bot.pages import Medium, PassagePager, TimelinePager
from retrieval.index.local import SyncReport
from retrieval.live import Answering
from retrieval.pipeline import Answer, StoreDown
from retrieval.question.checks import question_problem
from retrieval.question.followup import Conversation
from retrieval.text.clean import clean_question

GREETING_ARTICLES = 5  # articles named in the greeting; /sources lists them all
SHOWN_TITLE = 300  # characters of a title in the greeting
SHOWN_COMMAND = 50  # characters of an unknown command, echoed back


@dataclass
class Reply:
    """What a session says to one input."""

    text: str
    pager: PassagePager | TimelinePager | None = (
        None  # set while /more (or a More button) has more to show
    )
    answer: Answer | None = None  # when the reply answers a question
    shown: int = 0  # passages the reply shows
    end: bool = False  # the user leaves


@dataclass(frozen=True)
class Command:
    """A slash command: what it does, and how /help (and Telegram's menu) describe it."""

    name: str
    summary: str
    run: Callable[[ChatSession, str], Reply]
    usage: str = ""  # its argument, as /help shows it
    aliases: tuple[str, ...] = ()
    slow: bool = False  # it asks the retriever or reads the folder: off an event loop
    menu: bool = True  # offered in Telegram's command menu
    admin: bool = False  # on Telegram only for telegram.admin_user_ids


class ChatSession:
    """One chat: its last question, what /more shows next, and a note of reloads untold."""

    def __init__(
        self,
        retriever: Answering,
        medium: Medium,
        *,
        reload: Callable[[], SyncReport] | None = None,
    ) -> None:
        self.retriever = retriever
        self.medium = medium
        self._reload = reload
        self.conversation = Conversation()  # follow-ups are read with the last question
        self._pager: PassagePager | TimelinePager | None = (
            None  # what /more pages: the last answer or timeline
        )
        self._answered: bool | None = None  # whether the last question found passages
        self._updated: str | None = None  # what the seeds folder's watcher changed, untold
        self._lock = threading.Lock()  # Telegram answers in worker threads
        self.follows: follow.ChatFollows | None = None  # the chat's topics; None: none here
        self.commands = {
            alias: command
            for command in COMMANDS
            if command.name in medium.commands
            for alias in (command.name, *command.aliases)
        }

    # ------------------------------------------------------------------ lines and questions

    def reply(self, line: str) -> Reply:
        """The reply to one line typed (a pasted block of lines is one question), after a note
        on articles that changed since the last reply."""
        text = clean_question(line)  # control characters, pasted line breaks: one spaced line
        if not text:
            return Reply("")
        if text.startswith("/"):
            name, _, argument = text.partition(" ")
            reply = self.command(name, argument)
        else:
            reply = self.ask(text)
        with self._lock:
            note, self._updated = self._updated, None
        if note and not reply.end:
            m = self.medium.markup
            reply.text = m.dim(f"({m.escape(note)})") + ("\n" + reply.text if reply.text else "")
        return reply

    def ask(self, question: str, *, via: str = "") -> Reply:
        question, refusal = self.check(question, via=via)
        return refusal or self.answer(question)

    def check(self, question: str, *, via: str = "") -> tuple[str, Reply | None]:
        """The question cleaned, and the reply refusing it (empty, too long, not English, no
        words), or None. via: the command it came after ("/ask"), for the hint."""
        m = self.medium.markup
        question = clean_question(question)
        if not question:
            example = m.escape(self.examples()[0])
            if via:
                return question, Reply(
                    f"Please put your question after {via}, e.g. {m.dim(f'{via} {example}')}"
                )
            return question, Reply(f"Please type a question, e.g. {m.dim(example)}")
        problem = question_problem(question, self.medium.max_question_chars)
        return question, Reply(m.escape(problem)) if problem else None

    def answer(self, question: str) -> Reply:
        """Retrieval for a checked question, read with the last one if it follows on from it."""
        medium = self.medium
        with self._lock:
            reading = self.conversation.read(question)
        answer = self.retriever.ask(reading.question)
        text, shown = fit_answer(
            answer,
            medium.markup,
            shown=medium.shown,
            snippet_chars=medium.snippet_chars,
            max_chars=medium.max_chars,
            context=reading.note,
        )
        hits = answer.hits if answer.answered else ()
        heading = f"More for “{shorten(question, 100)}”:"
        pager = PassagePager(hits, medium, heading=heading, shown=shown)
        with self._lock:
            self._pager, self._answered = pager, answer.answered
        return Reply(text, pager=pager if pager.remaining else None, answer=answer, shown=shown)

    # ------------------------------------------------------------------ commands

    def command(self, name: str, argument: str = "") -> Reply:
        command = self.commands.get(name.lower().removeprefix("/"))
        if command is None:
            shown = self.medium.markup.escape(shorten(name, SHOWN_COMMAND))
            return Reply(f"Unknown command {shown}. Type /help for the commands.")
        return command.run(self, argument.strip())

    def more(self) -> Reply:
        """The next page of the last answer's passages, or of the last timeline."""
        with self._lock:
            pager, answered = self._pager, self._answered
            if pager is None:
                return Reply("Ask a question first; /more then shows further passages for it.")
            if not pager.timeline and not answered:
                return Reply("There was nothing about the last question in the articles.")
            text, _ = pager.turn()
        if not text:
            if pager.timeline:
                return Reply("No more events on that timeline.")
            return Reply("No more passages for that question.")
        return Reply(text, pager=pager if pager.remaining else None)

    def timeline(self, topic: str) -> Reply:
        """The dated events, of every article or of those about a topic, a page at a time."""
        m = self.medium.markup
        topic = clean_question(topic)
        problem = topic and question_problem(topic, self.medium.max_question_chars)
        if problem:
            return Reply(m.escape(problem))
        try:
            events = self.retriever.timeline(topic or None)
        except StoreDown as exc:
            return Reply(m.escape(str(exc)))
        if not events:
            about = f" about “{m.escape(topic)}”" if topic else ""
            return Reply(f"I found no dated events{about} in the articles.")
        heading = f"Timeline{' of “' + topic + '”' if topic else ''}: {len(events)} dated events"
        pager = TimelinePager(events, self.medium, heading=heading)
        with self._lock:
            self._pager = pager
            text, _ = pager.turn()
        return Reply(text, pager=pager if pager.remaining else None)

    def reload(self) -> Reply:
        """Brings the articles in step with the seeds folder now, and says how it went."""
        if self._reload is None:
            return Reply("The articles cannot be reloaded here.")
        try:
            return Reply(self.medium.markup.escape(reload_message(self._reload)))
        finally:
            with self._lock:
                self._updated = None  # this reply says it

    def seeds_reloaded(self, report: SyncReport) -> None:
        """A LiveRetriever listener (the watcher's thread): the note is said before the next
        reply (a front end that can show it at once calls update_note itself)."""
        note = update_note(report)
        if note:
            with self._lock:
                self._updated = note

    # ------------------------------------------------------------------ texts

    def examples(self) -> list[str]:
        return example_questions(self.retriever.articles, self.medium.examples)

    def greeting(self) -> str:
        """What the chat says first: the newest articles, and two questions to try."""
        m = self.medium.markup
        articles = sorted(self.retriever.articles, key=lambda a: (a.date, a.title), reverse=True)
        n = len(articles)
        lines = [self.medium.welcome.format(articles=f"{n} article{'s' if n != 1 else ''}")]
        for article in articles[:GREETING_ARTICLES]:
            title = m.escape(shorten(article.title, SHOWN_TITLE))
            lines.append(f"• {m.bold(human_date(article.date))} — {title}")
        if n > GREETING_ARTICLES:
            lines.append(f"… and {n - GREETING_ARTICLES} more: /sources")
        examples = [m.escape(q) for q in self.examples()]
        lines.append(
            self.medium.how_to_ask.format(
                inline=" or ".join(f"“{q}”" for q in examples),
                listed="\n".join(f"• {m.dim(q)}" for q in examples),
            )
        )
        return "\n".join(lines)

    def help(self, admin: bool = False) -> str:
        """The commands this medium offers; with admins_only, the admin ones for admins alone."""
        example = self.medium.markup.escape(self.examples()[0])
        lines = [self.medium.help_intro.format(example=example)]
        for command in COMMANDS:
            if command.name in self.medium.commands and not (
                command.admin and self.medium.admins_only and not admin
            ):
                usage = f"/{command.name}" + (f" {command.usage}" if command.usage else "")
                lines.append(self.medium.help_line.format(usage=usage, summary=command.summary))
        return "\n".join(lines)

    def sources(self) -> str:
        return render_sources(self.retriever.articles, self.medium.markup)

    def whoami(self, user_id: int | None = None, chat_id: int | None = None) -> Reply:
        """The ids the Telegram settings take; the console has none (its /whoami says so)."""
        m = self.medium.markup
        where = (
            "telegram.admin_user_ids (who may /reload) or telegram.allowed_user_ids, "
            "a chat's id in telegram.allowed_chat_ids"
        )
        if user_id is None or chat_id is None:
            return Reply(
                "In the console there is no Telegram id. Send /whoami to the bot on Telegram: "
                f"it replies with your user id and the chat's id. In the config, a user id goes "
                f"in {where}."
            )
        return Reply(
            f"Your user id: {m.bold(str(user_id))}\nThis chat's id: {m.bold(str(chat_id))}\n"
            f"In the config, a user id goes in {where}."
        )


def update_note(report: SyncReport) -> str | None:
    """What a reload changed, for the people chatting; None when nothing they would see."""
    changes = [
        f"{len(names)} {label}" + (f" ({', '.join(names)})" if len(names) <= 3 else "")
        for label, names in (
            ("new", report.added),
            ("changed", report.changed),
            ("removed", report.removed),
            ("skipped", report.skipped),  # why: in the warning logged for each
        )
        if names
    ]
    n = report.articles
    now = f"{n:,} article{'s' if n != 1 else ''} now"
    if report.replaced is not None:
        return f"The seeds folder was replaced: {now} (was {report.replaced:,})"
    if report.rebuilt and changes:  # not a damaged index rebuilt as it was
        return f"The articles changed: {'; '.join(changes)}; {now}"
    return None


def _ask(session: ChatSession, argument: str) -> Reply:
    return session.ask(argument, via="/ask")


def _on_telegram(name: str, summary: str, usage: str) -> Command:
    """An admins' command offered on Telegram alone, whose own handlers run it (/add, /remove:
    the download, the confirm button; bot.telegram.uploads); the console does not list it."""
    text = "Articles are added and removed on Telegram, by the bot's admins."
    return Command(name, summary, lambda s, _: Reply(text), usage=usage, menu=False, admin=True)


# In this order in every /help and in Telegram's menu.
COMMANDS = (
    Command("ask", "ask a question", _ask, usage="question", slow=True),
    Command(
        "more",
        "further passages (or timeline lines) for the last request",
        lambda s, _: s.more(),
        menu=False,
    ),
    Command(
        "timeline",
        "the dated events of the articles, or of those about a topic",
        ChatSession.timeline,
        usage="[topic]",
        slow=True,
    ),
    Command("sources", "the articles and their dates", lambda s, _: Reply(s.sources())),
    Command(
        "follow",
        "get new articles about a topic",
        lambda s, a: Reply(follow.follow(s, a)),
        usage="topic",
    ),
    Command("following", "the topics this chat follows", lambda s, _: Reply(follow.following(s))),
    Command(
        "unfollow",
        "stop following a topic",
        lambda s, a: Reply(follow.unfollow(s, a)),
        usage="topic",
        menu=False,
    ),
    Command(
        "reload",
        "pick up added, edited and deleted seed files now",
        lambda s, _: s.reload(),
        slow=True,
        menu=False,
        admin=True,
    ),
    _on_telegram("add", "add an article (or send a .txt file)", "[--replace] article"),
    _on_telegram("remove", "remove an article, after a confirm button", "file name or title"),
    Command("whoami", "your Telegram user id and this chat's id", lambda s, _: s.whoami()),
    Command("help", "this help", lambda s, _: Reply(s.help())),
    Command("start", "greeting and example questions", lambda s, _: Reply(s.greeting())),
    Command(
        "quit",
        "leave (or Ctrl-D); Ctrl-C cancels the line or the answer",
        lambda s, _: Reply("", end=True),
        aliases=("exit", "q"),
        menu=False,
    ),
)
