"""The YAML configuration: parsed with pyyaml, validated with pydantic, plain-worded errors.

Every problem of a file is reported at once, one line each, naming the key. Paths a user wrote
are relative to their file; paths left at their default are relative to the project (the
defaults are written relative to config/, as config/default.yaml shows them).
"""

from __future__ import annotations

import os
import pwd
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator

from retrieval.files import FileLimitError, os_problem, read_regular_file
from retrieval.settings import IndexSettings, MilvusSettings, RetrievalSettings, Strict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.yaml"
MAX_CONFIG_BYTES = 1024 * 1024  # the default file is 5 KB; /dev/zero must not fill memory
DEFAULTS_BASE = PROJECT_ROOT / "config"  # where the defaults' relative paths start
SHOWN_VALUE_CHARS = 60  # a bad value is quoted up to this length in an error
MAX_PROBLEMS = 20  # more than this in one file: the rest are counted, not listed


class ConfigError(ValueError):
    """A configuration problem; str() names the file and the key; one line per problem."""


def _usable_path(path: Path) -> Path:
    """Problems a path has before any file is touched: a NUL byte, an unknown user's ~."""
    text = str(path)
    if "\0" in text:
        raise ValueError("must not contain a NUL character")
    user = text[1:].split("/", 1)[0] if text.startswith("~") else ""
    if user:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ValueError(f"'~{user}' is the home folder of no user on this machine") from None
    return path


# Strict mode would take only Path objects; YAML gives text, which is what a path is written as.
UserPath = Annotated[Path, Field(strict=False), AfterValidator(_usable_path)]


class CorpusSettings(Strict):
    seeds_dir: UserPath = Path("../seeds")
    skip_bad_files: bool = False
    cache_dir: UserPath | None = Path("../.cache")
    watch: bool = True  # pick up added, edited and deleted seed files while the bot runs
    watch_seconds: float = Field(2.0, ge=0.1, le=3600)  # how often the folder is looked at
    # RSS/Atom feeds whose new items are written into the seeds folder (bot.ingest.poller).
    feeds: list[str] = []
    feed_minutes: float = Field(30.0, ge=1, le=1440)  # how often each feed is fetched

    @field_validator("feeds")
    @classmethod
    def _feed_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
                raise ValueError(f"must be a list of http:// or https:// URLs, not {url[:60]!r}")
        return value


class ChatSettings(Strict):
    shown_passages: int = Field(3, ge=1, le=20)
    history_file: UserPath | None = Path("~/.newsbot_history")
    snippet_chars: int = Field(200, ge=40, le=2000)


class WebhookSettings(Strict):
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    url_path: str = "telegram"
    public_url: str | None = None  # e.g. https://bot.example.org/telegram
    secret_token_env: str = "TELEGRAM_WEBHOOK_SECRET"

    @field_validator("public_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local Bot API server)")
        return value


class TelegramSettings(Strict):
    token_env: str = "TELEGRAM_BOT_TOKEN"
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook: WebhookSettings = WebhookSettings()
    shown_passages: int = Field(3, ge=1, le=10)
    more_page_size: int = Field(3, ge=1, le=10)
    snippet_chars: int = Field(200, ge=40, le=1000)
    max_question_chars: int = Field(500, ge=10, le=4096)
    rate_limit_count: int = Field(10, ge=1, le=1000)
    rate_limit_seconds: float = Field(60.0, gt=0, le=86400)
    allowed_user_ids: list[int] | None = None  # None: everyone may ask
    admin_user_ids: list[int] | None = None  # who may /reload the articles; None: nobody
    allowed_chat_ids: list[int] | None = None
    log_message_text: bool = False
    workers: int = Field(4, ge=1, le=64)
    poll_timeout: int = Field(10, ge=0, le=60)
    retries: int = Field(3, ge=0, le=10)
    example_questions: list[str] | None = None  # shown by /start; None: made from the articles
    follow_max_topics: int = Field(20, ge=1, le=200)  # topics a chat may /follow
    follow_pushes_per_hour: int = Field(5, ge=1, le=100)  # per chat; the rest in one summary
    follow_in_groups: Literal["admins", "members"] = "admins"  # who may /follow in a group
    inline_cache_seconds: int = Field(60, ge=0, le=86400)  # Telegram caches inline answers

    @field_validator("example_questions")
    @classmethod
    def _examples(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not q.strip() for q in value)):
            raise ValueError("must be null or a list of non-empty questions")
        return value


class OpsSettings(Strict):
    """Health and metrics (bot.ops): /healthz, /readyz, /metrics."""

    listen: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)  # a listener of their own; None: none
    api_contact_seconds: float = Field(300.0, ge=1, le=86400)  # ready while the Bot API answered


class LoggingSettings(Strict):
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


class AppConfig(Strict):
    corpus: CorpusSettings = CorpusSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    chat: ChatSettings = ChatSettings()
    telegram: TelegramSettings = TelegramSettings()
    ops: OpsSettings = OpsSettings()
    logging: LoggingSettings = LoggingSettings()
    index: IndexSettings = IndexSettings()
    milvus: MilvusSettings = MilvusSettings()
    source: Path | None = Field(None, exclude=True)  # the file this came from

    def resolve(self, path: Path) -> Path:
        """A path the config file wrote, relative to that file's folder."""
        path = path.expanduser()
        base = self.source.parent if self.source else DEFAULTS_BASE
        return path if path.is_absolute() else (base / path).resolve()

    def path_setting(self, key: str) -> PathSetting | None:
        """The path under a dotted key ("corpus.cache_dir"), resolved: against the config
        file's folder if the file wrote it, against the project if it is the default.
        None when the setting is null (switched off)."""
        section_name, name = key.split(".")
        section: BaseModel = getattr(self, section_name)
        value = getattr(section, name)
        if value is None:
            return None
        written = section_name in self.model_fields_set and name in section.model_fields_set
        base = self.source.parent if written and self.source else DEFAULTS_BASE
        path = value.expanduser()
        resolved = path if path.is_absolute() else Path(os.path.normpath(base / path))
        return PathSetting(key, value, resolved, written, self.source)


@dataclass(frozen=True)
class PathSetting:
    """A path setting and where it came from, so an error can say which key and why there."""

    key: str  # "corpus.seeds_dir", or "--seeds" for the command-line option
    value: Path  # as written, or the default
    path: Path  # resolved
    written: bool  # False: the default, not in the user's file
    source: Path | None = None

    def error(self, problem: str) -> ConfigError:
        """'FILE: key 'corpus.seeds_dir' (default ../seeds): /abs/seeds: <problem>'."""
        value = shown_path(self.value)
        if self.key.startswith("--"):
            return ConfigError(f"{self.key} {value}: {problem}")
        where = f"{self.source}: " if self.source else ""
        default = "" if self.written else f" (not set, so the default {value})"
        shown = "" if str(self.value) == str(self.path) else f" {shown_path(self.path)}:"
        return ConfigError(f"{where}key {self.key!r}{default}:{shown} {problem}")


def shown_path(path: Path | str) -> str:
    """A path as an error shows it: whole unless absurdly long."""
    text = str(path)
    if len(text) <= 2 * SHOWN_VALUE_CHARS:
        return text
    return f"{text[:SHOWN_VALUE_CHARS]}… ({len(text):,} characters)"


# --------------------------------------------------------------------------- errors

_PLAIN_TYPES = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "model_type": "must be a section of settings (indented 'key: value' lines)",
    "dict_type": "must be a section of settings (indented 'key: value' lines)",
    "path_type": "must be a path (text)",
    "none_required": "must be null",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
}


# A list or mapping is quoted through reprlib, which stops after a few items at every level:
# repr() of nested aliases would build the whole expansion (gigabytes) to show 60 characters.
_SHORT_REPR = reprlib.Repr()  # attributes, not keywords: Python 3.11 takes none
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxdict = _SHORT_REPR.maxset = 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = SHOWN_VALUE_CHARS


def shown_value(value: Any) -> str:
    """A bad value as the error quotes it: repr, cut, with its full length if cut (a text's
    full length; a list or mapping is cut without ever being written out whole)."""
    if isinstance(value, list | dict | tuple | set):
        text = _SHORT_REPR.repr(value)
        return text if len(text) <= SHOWN_VALUE_CHARS else f"{text[: SHOWN_VALUE_CHARS - 1]}…"
    text = repr(value)
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    return f"{text[: SHOWN_VALUE_CHARS - 1]}… ({len(text):,} characters)"


def plain_problem(detail: dict[str, Any]) -> str:
    """One pydantic error as 'key 'a.b': must be a whole number, got 'three''."""
    key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
    kind = detail["type"]
    if kind == "extra_forbidden":
        guess = suggested_key(tuple(str(part) for part in detail["loc"]))
        return f"unknown key {key!r}" + (f" (did you mean {guess}?)" if guess else "")
    ctx = detail.get("ctx") or {}
    if kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
        problem = _BOUNDS[kind][1].format(ctx[_BOUNDS[kind][0]])
    elif kind == "literal_error":
        problem = "must be " + str(ctx.get("expected", "one of the allowed values"))
    elif kind in _PLAIN_TYPES:
        problem = _PLAIN_TYPES[kind]
    else:
        message = str(detail["msg"]).removeprefix("Value error, ")
        problem = message.replace("Input should be", "must be", 1)
    value = detail.get("input")
    got = "" if isinstance(value, dict) else f", got {shown_value(value)}"
    return f"key {key!r}: {problem}{got}"


def setting_keys(model: type[BaseModel] = AppConfig, prefix: str = "") -> list[str]:
    """Every dotted key a config file may hold, sections included."""
    keys = []
    for name, info in model.model_fields.items():
        if info.exclude:
            continue  # internal: AppConfig.source
        keys.append(prefix + name)
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys += setting_keys(info.annotation, f"{prefix}{name}.")
    return keys


def suggested_key(loc: tuple[str, ...]) -> str | None:
    """The key(s) an unknown one was probably meant to be, quoted: the name in other case in
    its section, the same name in other sections ("'a.x' or 'b.x'"), or a close spelling."""
    from rapidfuzz import fuzz, process, utils

    name, parent = loc[-1].lower(), ".".join(loc[:-1])
    keys = setting_keys()
    siblings = {k: k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent}
    same = [k for k, n in siblings.items() if n == name]
    elsewhere = [k for k in keys if k.rpartition(".")[2] == name]
    if same or elsewhere:
        return " or ".join(repr(k) for k in same or elsewhere)
    close = process.extractOne(
        name, siblings, scorer=fuzz.ratio, processor=utils.default_process, score_cutoff=75
    )
    return repr(close[2]) if close else None


def describe_errors(path: Path, error: ValidationError) -> str:
    """Every problem pydantic found: one line if one, else a count and one line each."""
    # A wrong type in a union (`int | None`) is reported once per member; keep the first.
    problems = list(dict.fromkeys(plain_problem(d) for d in error.errors()))
    if len(problems) == 1:
        return f"{path}: {problems[0]}"
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    lines = [f"{path}: {len(problems)} problems:", *(f"  {p}" for p in shown)]
    if more:
        lines.append(f"  … and {more} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading

MAX_EXPANDED_VALUES = 100_000  # the default file holds about 80; nine chained aliases, 10**9
# PyYAML's words for an indentation slip, and what to tell the user instead or as well.
_YAML_HINTS = {
    "mapping values are not allowed here": (
        "a 'key: value' where none may start: indent it like the keys above it (spaces,"
        " the same number), or quote a value that holds ': '"
    ),
    "expected <block end>": (
        "this line's indentation matches no section above it: line it up with the keys"
        " of its section"
    ),
    # these two are placed where the '[' or '{' is (PyYAML's context mark), not where it noticed
    "expected ',' or ']'": "the list opened here with '[' is not closed with ']'",
    "expected ',' or '}'": "the mapping opened here with '{' is not closed with '}'",
    "could not find expected ':'": "a key without ':' or a line indented too far",
    "found character '\\t' that cannot start any token": "a tab: indent with spaces",
}


class _Loader(yaml.SafeLoader):
    """safe_load, but a key given twice is an error rather than a silent last-one-wins, and
    aliases (*name) that would expand to more than MAX_EXPANDED_VALUES values are refused
    before anything is built from them."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        sizes: dict[int, int] = {}
        if _expanded_size(node, sizes) > MAX_EXPANDED_VALUES:
            key, value = _largest_key(node, sizes)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r}: its anchors and aliases (&name, *name) expand to more than"
                f" {MAX_EXPANDED_VALUES:,} values; write the values out instead",
                value.start_mark,
            )
        return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key; SafeLoader reports it below
                continue
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (first on line {first + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values the node stands for once every alias is written out; an aliased node is one
    object, counted once (memoised), so this takes time in the size of the file."""
    if id(node) not in sizes:
        sizes[id(node)] = MAX_EXPANDED_VALUES + 1  # a node inside itself (&a [*a]): refuse
        total = 1
        for child in _children(node):
            total = min(total + _expanded_size(child, sizes), MAX_EXPANDED_VALUES + 1)
        sizes[id(node)] = total
    return sizes[id(node)]


def _largest_key(node: yaml.Node, sizes: dict[int, int]) -> tuple[str, yaml.Node]:
    """The (first) dotted key under which the expansion is largest, and its value."""
    path: list[str] = []
    while isinstance(node, yaml.MappingNode) and node.value:
        key, node = max(node.value, key=lambda pair: sizes.get(id(pair[1]), 0))
        path.append(str(key.value) if isinstance(key, yaml.ScalarNode) else "?")
    return ".".join(path) or "(top level)", node


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """'FILE:LINE:COLUMN: invalid YAML: problem (hint)', in words a user can act on."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    for words, hint in _YAML_HINTS.items():
        if problem.startswith(words):
            problem = hint if words.startswith("expected") else f"{problem}: {hint}"
            if words.startswith("expected ','"):
                mark = getattr(exc, "context_mark", None) or mark
            break
    where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
    return f"{path}{where}: invalid YAML: {problem}"


def load_config(path: Path | None = None) -> AppConfig:
    path = path or DEFAULT_CONFIG
    try:
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except FileLimitError as exc:
        raise ConfigError(f"{path}: config file is {exc.strerror}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({os_problem(exc)})") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(path, exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "source" in data:
        raise ConfigError(f"{path}: unknown key 'source'")
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: settings nested too deeply") from None
    return config.model_copy(update={"source": path.resolve()})
