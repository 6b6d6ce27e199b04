"""The YAML configuration: parsed with pyyaml, validated with pydantic, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from retrieval.files import FileLimitError, read_regular_file
from retrieval.settings import RetrievalSettings, Strict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.yaml"
MAX_CONFIG_BYTES = 1024 * 1024  # the default file is 5 KB; /dev/zero must not fill memory


class ConfigError(ValueError):
    """A configuration problem; str() is one line naming the file, the key and the problem."""


class CorpusSettings(Strict):
    seeds_dir: Path = Path("../seeds")
    skip_bad_files: bool = False
    cache_dir: Path | None = Path("../.cache")


class ChatSettings(Strict):
    shown_passages: int = Field(3, ge=1, le=20)
    history_file: Path | None = Path("~/.newsbot_history")
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
    allowed_chat_ids: list[int] | None = None
    log_message_text: bool = False
    workers: int = Field(4, ge=1, le=64)
    poll_timeout: int = Field(10, ge=0, le=60)
    retries: int = Field(3, ge=0, le=10)
    example_questions: list[str] | None = None  # shown by /start; None: made from the articles

    @field_validator("example_questions")
    @classmethod
    def _examples(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not q.strip() for q in value)):
            raise ValueError("must be null or a list of non-empty questions")
        return value


class AppConfig(Strict):
    corpus: CorpusSettings = CorpusSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    chat: ChatSettings = ChatSettings()
    telegram: TelegramSettings = TelegramSettings()
    source: Path | None = Field(None, exclude=True)  # the file this came from

    def resolve(self, path: Path) -> Path:
        """Relative paths in the YAML are relative to the file that names them."""
        path = path.expanduser()
        base = self.source.parent if self.source else PROJECT_ROOT / "config"
        return path if path.is_absolute() else (base / path).resolve()


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
    if detail["type"] == "extra_forbidden":
        return f"unknown key {key!r}"
    value = detail.get("input")
    shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
    return f"key {key!r}: {detail['msg'].removeprefix('Value error, ')}{shown}"


def load_config(path: Path | None = None) -> AppConfig:
    path = path or DEFAULT_CONFIG
    try:
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except FileLimitError as exc:
        raise ConfigError(f"{path}: config file is {exc.strerror}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "source" in data:
        raise ConfigError(f"{path}: unknown key 'source'")
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    return config.model_copy(update={"source": path.resolve()})
