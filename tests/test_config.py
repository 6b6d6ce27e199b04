"""The YAML configuration: defaults, documentation, and one-line errors naming file and key."""

from __future__ import annotations

import re
import time
from pathlib import Path

import annotated_types
import pytest
import yaml
from pydantic import BaseModel

from bot.config import DEFAULT_CONFIG, AppConfig, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "bot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, lines: int = 1) -> str:
    """The message; one problem is one line, several are a count and one line each."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert len(message.split("\n")) == lines and message.strip() == message
    assert message.startswith(str(path))
    return message


def test_default_file_loads():
    config = load_config()
    assert DEFAULT_CONFIG == ROOT / "config" / "default.yaml"
    assert config.source == DEFAULT_CONFIG.resolve()
    assert config.resolve(config.corpus.seeds_dir) == (ROOT / "seeds").resolve()
    assert config.resolve(config.corpus.cache_dir) == (ROOT / ".cache").resolve()
    assert config.retrieval.max_sentences == 3
    assert config.retrieval.fusion == "weighted"
    assert config.telegram.mode == "polling"


def test_empty_file_means_all_defaults(tmp_path):
    loaded = load_config(write(tmp_path, "# nothing set\n"))
    assert loaded.model_dump() == AppConfig().model_dump()
    assert loaded.source == (tmp_path / "bot.yaml").resolve()


def test_partial_file_keeps_other_defaults_and_resolves_paths_next_to_it(tmp_path):
    (tmp_path / "conf").mkdir()
    path = write(
        tmp_path / "conf",
        "corpus:\n  seeds_dir: my_seeds\n  cache_dir: null\nretrieval:\n  fusion: rrf\n",
    )
    loaded = load_config(path)
    assert loaded.retrieval.fusion == "rrf"
    assert loaded.retrieval.max_sentences == 3
    assert loaded.corpus.cache_dir is None
    assert loaded.resolve(loaded.corpus.seeds_dir) == (tmp_path / "conf" / "my_seeds").resolve()
    assert loaded.resolve(Path("/abs/seeds")) == Path("/abs/seeds")


BAD_VALUES = [
    # id, YAML, the key the message must name, another word it must hold
    ("unknown-key", "retrieval:\n  max_sentencs: 3\n", "retrieval.max_sentencs", "unknown key"),
    ("unknown-section", "retreival:\n  max_sentences: 3\n", "retreival", "unknown key"),
    ("unknown-deep", "telegram:\n  webhook:\n    prot: 80\n", "telegram.webhook.prot", "unknown"),
    ("source-key", "source: elsewhere.yaml\n", "source", "unknown key"),
    ("type-int", "chat:\n  snippet_chars: many\n", "chat.snippet_chars", "'many'"),
    ("type-bool", "corpus:\n  skip_bad_files: maybe\n", "corpus.skip_bad_files", "'maybe'"),
    ("type-section", "retrieval: 5\n", "retrieval", "5"),
    ("type-list", "telegram:\n  allowed_user_ids: [1, bob]\n", "telegram.allowed_user_ids", "bob"),
    ("choice", "retrieval:\n  fusion: sum\n", "retrieval.fusion", "'sum'"),
    ("range-low", "retrieval:\n  max_sentences: 0\n", "retrieval.max_sentences", "0"),
    ("range-high", "telegram:\n  webhook:\n    port: 70000\n", "telegram.webhook.port", "70000"),
    ("range-float", "retrieval:\n  lexical_weight: 1.5\n", "retrieval.lexical_weight", "1.5"),
    ("range-nested", "retrieval:\n  no_answer:\n    min_term_coverage: -0.1\n",
     "retrieval.no_answer.min_term_coverage", "-0.1"),
    ("cross-field", "retrieval:\n  max_sentences: 2\n  stride: 3\n", "retrieval", "stride"),
]  # fmt: skip


@pytest.mark.parametrize(("yaml_text", "key", "word"), [b[1:] for b in BAD_VALUES],
                         ids=[b[0] for b in BAD_VALUES])  # fmt: skip
def test_bad_value_is_one_line_naming_file_and_key(tmp_path, yaml_text, key, word):
    message = config_error(write(tmp_path, yaml_text))
    assert f"'{key}'" in message or f"'{key}." in message  # list items add their index
    assert word in message


def test_every_problem_is_reported_at_once_in_plain_words(tmp_path):
    path = write(
        tmp_path,
        "chat:\n  shown_passages: three\n  snippet_chars: 5\nretrieval:\n  fusion: sum\n",
    )
    message = config_error(path, lines=4)
    assert message.split("\n") == [
        f"{path}: 3 problems:",
        "  key 'retrieval.fusion': must be 'weighted' or 'rrf', got 'sum'",
        "  key 'chat.shown_passages': must be a whole number, got 'three'",
        "  key 'chat.snippet_chars': must be at least 40, got 5",
    ]


LAX_VALUES = [
    # what the README promises stops start-up: a value of the wrong type, even if convertible
    ("chat:\n  shown_passages: '5'\n", "chat.shown_passages", "must be a whole number, got '5'"),
    ("chat:\n  shown_passages: 5.0\n", "chat.shown_passages", "must be a whole number, got 5.0"),
    ("corpus:\n  skip_bad_files: 'yes'\n", "corpus.skip_bad_files", "must be true or false"),
    ("telegram:\n  log_message_text: 1\n", "telegram.log_message_text", "must be true or false"),
    ("retrieval:\n  model: 5\n", "retrieval.model", "must be text, got 5"),
    ("retrieval:\n  lexical_weight: '0.2'\n", "retrieval.lexical_weight", "must be a number"),
]


@pytest.mark.parametrize(("yaml_text", "key", "words"), LAX_VALUES)
def test_values_of_the_wrong_type_are_not_converted(tmp_path, yaml_text, key, words):
    message = config_error(write(tmp_path, yaml_text))
    assert f": key {key!r}: {words}" in message


def test_a_whole_number_is_a_good_float(tmp_path):
    loaded = load_config(write(tmp_path, "telegram:\n  rate_limit_seconds: 30\n"))
    assert loaded.telegram.rate_limit_seconds == 30.0


def test_a_key_given_twice_is_an_error(tmp_path):
    path = write(tmp_path, "retrieval:\n  max_sentences: 3\n  fusion: rrf\n  max_sentences: 4\n")
    message = config_error(path)
    assert message == (
        f"{path}:4:3: invalid YAML: key 'max_sentences' is given twice (first on line 2)"
    )


MISSPELT = [
    ("chat:\n  shown_pasages: 3\n", "chat.shown_pasages", "'chat.shown_passages'"),
    ("chat:\n  Shown_Passages: 3\n", "chat.Shown_Passages", "'chat.shown_passages'"),
    ("retreival:\n  fusion: rrf\n", "retreival", "'retrieval'"),
    ("telegram:\n  webhook:\n    prot: 80\n", "telegram.webhook.prot", "'telegram.webhook.port'"),
    # the right name in the wrong section: where it belongs
    ("retrieval:\n  history_file: h\n", "retrieval.history_file", "'chat.history_file'"),
    ("retrieval:\n  snippet_chars: 80\n", "retrieval.snippet_chars",
     "'chat.snippet_chars' or 'telegram.snippet_chars'"),
]  # fmt: skip


@pytest.mark.parametrize(("yaml_text", "key", "guess"), MISSPELT)
def test_a_misspelt_key_gets_a_suggestion(tmp_path, yaml_text, key, guess):
    path = write(tmp_path, yaml_text)
    assert config_error(path) == f"{path}: unknown key {key!r} (did you mean {guess}?)"


def test_a_key_like_no_other_gets_no_suggestion(tmp_path):
    path = write(tmp_path, "chat:\n  colour: blue\n")
    assert config_error(path) == f"{path}: unknown key 'chat.colour'"


INDENTATION = [
    # one space too many: PyYAML says "mapping values are not allowed here"
    ("chat:\n  shown_passages: 3\n   snippet_chars: 200\n", 3, 17, "indent it like the keys above"),
    # one space too few: "expected <block end>, but found '<block mapping start>'"
    ("chat:\n  shown_passages: 3\n snippet_chars: 200\n", 3, 2, "matches no section above it"),
    ("chat:\n\tshown_passages: 3\n", 2, 1, "a tab: indent with spaces"),
]


@pytest.mark.parametrize(("yaml_text", "line", "column", "hint"), INDENTATION)
def test_an_indentation_slip_names_line_and_column_with_a_plain_hint(
    tmp_path, yaml_text, line, column, hint
):
    path = write(tmp_path, yaml_text)
    message = config_error(path)
    assert message.startswith(f"{path}:{line}:{column}: invalid YAML: ")
    assert hint in message
    assert "<block" not in message  # PyYAML's token names mean nothing to a user


CHAINED_ALIASES = "".join(
    f"- &{a} [{', '.join([f'*{b}'] * 9)}]\n" for b, a in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize("where", ["chat:\n  snippet_chars:\n", "retrieval:\n  rrf_k:\n"])
def test_an_alias_bomb_is_refused_at_once_naming_the_key(tmp_path, where):
    """Nine chained anchors: 9**9 values once expanded. It took 354 s and 3 GB before."""
    indent = "    "
    bomb = f"{indent}- &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        indent + line + "\n" for line in CHAINED_ALIASES.splitlines()
    )
    path = write(tmp_path, where + bomb)
    started = time.monotonic()
    message = config_error(path)
    assert time.monotonic() - started < 5
    key = where.replace(":\n  ", ".").rstrip(":\n")
    assert re.fullmatch(
        rf"{re.escape(str(path))}:3:5: invalid YAML: key '{key}': its anchors and aliases"
        r" \(&name, \*name\) expand to more than 100,000 values; write the values out instead",
        message,
    )


def test_a_few_aliases_are_fine(tmp_path):
    path = write(
        tmp_path, "telegram:\n  allowed_user_ids: &staff [1, 2]\n  admin_user_ids: *staff\n"
    )
    assert load_config(path).telegram.admin_user_ids == [1, 2]


def test_a_big_bad_list_is_quoted_short(tmp_path):
    """A list where a number belongs is quoted a few items deep, never written out whole."""
    rows = "".join(f"    - [{', '.join(['word'] * 50)}]\n" for _ in range(50))
    message = config_error(write(tmp_path, f"chat:\n  snippet_chars:\n{rows}"))
    assert "key 'chat.snippet_chars': must be a whole number, got [['word', 'word'" in message
    assert len(message) < len(str(tmp_path)) + 150


def test_deeply_nested_yaml_is_one_line(tmp_path):
    message = config_error(write(tmp_path, "a: " + "[" * 100_000 + "\n"))
    assert "invalid YAML" in message and "nested too deeply" in message


def test_a_huge_bad_value_is_cut_in_the_message(tmp_path):
    # Under the 1 MiB limit of a config file (a bigger file is refused before it is parsed).
    message = config_error(write(tmp_path, f"chat:\n  snippet_chars: {'x' * 1_000_000}\n"))
    assert len(message) < 300
    assert "must be a whole number, got 'xxxx" in message and "(1,000,002 characters)" in message


def test_a_config_file_over_the_limit_is_refused_before_it_is_parsed(tmp_path):
    path = write(tmp_path, f"chat:\n  snippet_chars: {'x' * 20_000_000}\n")
    assert config_error(path) == f"{path}: config file is larger than the limit of 1 MiB"


@pytest.mark.parametrize("key", ["corpus.seeds_dir", "corpus.cache_dir", "chat.history_file"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"a\\0b"', "must not contain a NUL character"),
        ("~nosuchuser/x", "'~nosuchuser' is the home folder of no user on this machine"),
    ],
)
def test_paths_no_file_can_have_are_refused_at_load(tmp_path, key, value, problem):
    section, name = key.split(".")
    message = config_error(write(tmp_path, f"{section}:\n  {name}: {value}\n"))
    assert message.startswith(f"{tmp_path / 'bot.yaml'}: key {key!r}: {problem}")


def test_defaults_resolve_against_the_project_written_paths_against_the_file(tmp_path):
    """A config elsewhere that sets only the model still finds the bundled seeds, and keeps
    its cache in the project, not beside the user's folder."""
    folder = tmp_path / "x"
    folder.mkdir()
    loaded = load_config(write(folder, "retrieval:\n  model: all-MiniLM-L6-v2\n"))
    seeds = loaded.path_setting("corpus.seeds_dir")
    assert seeds.path == ROOT / "seeds" and not seeds.written
    assert loaded.path_setting("corpus.cache_dir").path == ROOT / ".cache"
    written = load_config(write(folder, "corpus:\n  seeds_dir: mine\n  cache_dir: null\n"))
    assert written.path_setting("corpus.seeds_dir").path == folder / "mine"
    assert written.path_setting("corpus.seeds_dir").written
    assert written.path_setting("corpus.cache_dir") is None
    # An error about a default says it was one: the user did not write that path.
    problem = str(seeds.error("seeds folder does not exist"))
    assert problem == (
        f"{folder / 'bot.yaml'}: key 'corpus.seeds_dir' (not set, so the default ../seeds)"
        f": {ROOT / 'seeds'}: seeds folder does not exist"
    )


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "retrieval:\n  max_sentences: 3\n  fusion: [rrf\n")
    message = config_error(path)
    assert message == (
        f"{path}:3:11: invalid YAML: the list opened here with '[' is not closed with ']'"
    )


def test_tab_indented_yaml_is_bad_yaml(tmp_path):
    message = config_error(write(tmp_path, "retrieval:\n\tmax_sentences: 3\n"))
    assert "invalid YAML" in message


def test_missing_file(tmp_path):
    message = config_error(tmp_path / "nope.yaml")
    assert "not found" in message


@pytest.mark.parametrize("text", ["- corpus\n- retrieval\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    assert "mapping" in config_error(write(tmp_path, text))


def test_not_utf8_config(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("chat:\n  history_file: caf\xe9\n".encode("latin-1"))
    assert "cannot read" in config_error(path)


# --- the default file documents every setting -------------------------------------------------


def model_tree(model: type[BaseModel], prefix: str = "") -> dict[str, object]:
    """Dotted key -> field info for every setting, sections included."""
    keys: dict[str, object] = {}
    for name, info in model.model_fields.items():
        if info.exclude:
            continue  # internal, e.g. AppConfig.source
        keys[prefix + name] = info
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys.update(model_tree(kind, prefix + name + "."))
    return keys


def yaml_tree(data: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        keys.add(prefix + name)
        if isinstance(value, dict):
            keys |= yaml_tree(value, prefix + name + ".")
    return keys


def test_default_yaml_names_every_setting_and_nothing_else():
    documented = yaml_tree(yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8")))
    expected = set(model_tree(AppConfig))
    assert expected - documented == set(), "settings missing from config/default.yaml"
    assert documented - expected == set(), "keys in config/default.yaml that are no setting"


def test_default_yaml_values_equal_the_pydantic_defaults():
    assert load_config().model_dump() == AppConfig().model_dump()


def test_default_yaml_keys_have_comments():
    lines = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()
    uncommented = [
        line.strip().split(":")[0]
        for line in lines
        if re.match(r"^\s*\w+:\s*\S", line) and "#" not in line
    ]
    # base_file_url sits under base_url, whose comment covers both.
    assert uncommented in ([], ["base_file_url"])


def _bounds(info) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low = item.gt
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high = item.lt
    return low, high


def test_ranges_in_default_yaml_comments_match_the_validation():
    """A comment `(1-10)` after a key must state the range pydantic really enforces."""
    fields = model_tree(AppConfig)
    stack: list[tuple[int, str]] = []
    checked = 0
    for line in DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\s*)(\w+):", line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, name))
        key = ".".join(n for _, n in stack)
        documented = re.search(r"#.*\((-?[\d.]+)-(-?[\d.]+)\)", line)
        if documented:
            low, high = _bounds(fields[key])
            assert (float(documented.group(1)), float(documented.group(2))) == (low, high), key
            checked += 1
    assert checked >= 10
