"""Config loading: the sample loads; every flaw names the file, the field path and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import load_config
from collector.errors import ConfigError, StoreError
from collector.sinks import open_sink
from collector.sinks.url import Engine, StoreUrl

EXAMPLE = Path(__file__).parents[2] / "configs" / "collector.example.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collector.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    return message.removeprefix(str(path) + ": ")


def test_example_config_loads_and_resolves_the_store_next_to_it() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.collector_id == "collector-1"
    assert cfg.broker.port == 1883
    assert cfg.subscription.site == "+"
    store = cfg.store.store_url
    assert store.engine is Engine.SQLITE
    assert store.path == (EXAMPLE.parent / "../var/collector.db").resolve()


def test_defaults_fill_what_is_not_given(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "broker: {host: mqtt.city.example}\n"))
    assert (cfg.broker.port, cfg.broker.keepalive_s, cfg.broker.session_expiry_s) == (1883, 30, 86_400)
    assert (cfg.broker.receive_maximum, cfg.broker.share_group) == (200, None)
    assert (cfg.ingest.max_payload_bytes, cfg.ingest.max_messages_per_commit) == (4 * 1024 * 1024, 64)
    assert cfg.store.store_url.path == Path("/var/lib/streetgate/collector.db")


def test_relative_store_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "c.yaml"
    path.write_text("broker: {host: h}\nstore: {url: 'sqlite:///data/c.db'}\n", encoding="utf-8")
    assert load_config(path).store.store_url.path == tmp_path / "etc" / "data" / "c.db"


def test_absolute_store_path_is_kept(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "broker: {host: h}\nstore: {url: 'sqlite:////srv/c.db'}\n"))
    assert cfg.store.url == "sqlite:////srv/c.db"


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    message = _error(tmp_path, "broker:\n  host: h\n  port: eighteen\n")
    assert message.startswith("broker.port: ")
    assert "integer" in message
    assert "'eighteen'" in message


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    assert _error(tmp_path, "broker: {host: h, prot: 1883}\n") == "broker.prot: unknown key"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://db/x", "unsupported store scheme 'mysql'"),
        ("sqlite://host/x.db", "a sqlite URL has no host"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///:memory:", "in-memory"),
        ("/var/x.db", "unsupported store URL"),
    ],
)
def test_bad_store_url_is_refused(tmp_path: Path, url: str, reason: str) -> None:
    message = _error(tmp_path, f"broker: {{host: h}}\nstore: {{url: '{url}'}}\n")
    assert message.startswith("store.url: ")
    assert reason in message


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    message = _error(tmp_path, "broker:\n  host: h\n  port: [1883\n")
    assert message.startswith("line 4, column 1: YAML syntax error: ")


def test_duplicate_key_is_refused_not_overwritten(tmp_path: Path) -> None:
    message = _error(tmp_path, "broker: {host: a}\nbroker: {host: b}\n")
    assert message == "line 2, column 1: duplicate key 'broker' (first at line 1)"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- broker\n", "the top level must be a mapping, not a list"),
        ("collector_id: c\n", "broker: Field required"),
    ],
)
def test_empty_or_shapeless_file(tmp_path: Path, text: str, reason: str) -> None:
    assert reason in _error(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("collector_id: 'a/b'\nbroker: {host: h}\n", "collector_id: "),
        ("broker: {host: h, share_group: 'g/1'}\n", "broker.share_group: "),
        ("broker: {host: h}\nsubscription: {site: '#'}\n", "subscription.site: "),
        ("broker: {host: h, session_expiry_s: 0}\n", "broker.session_expiry_s: "),
        ("broker: {host: h}\ningest: {max_messages_per_commit: 0}\n", "ingest.max_messages_per_commit: "),
    ],
)
def test_out_of_range_values_name_the_field(tmp_path: Path, text: str, where: str) -> None:
    assert _error(tmp_path, text).startswith(where)


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    message = _error(tmp_path, "broker: {host: h, port: 0}\ningest: {max_payload_bytes: x}\n")
    assert "broker.port: " in message
    assert "ingest.max_payload_bytes: " in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read"):
        load_config(tmp_path / "nope.yaml")


async def test_a_store_without_a_sink_is_refused_by_the_model_and_by_open_sink(tmp_path: Path) -> None:
    url = "postgresql://collector@db.city/streetgate"
    message = _error(tmp_path, f"broker: {{host: h}}\nstore: {{url: '{url}'}}\n")
    assert message == "store.url: the postgresql sink is not built yet: use a sqlite:/// store for now"
    assert StoreUrl.parse(url).engine is Engine.POSTGRESQL  # the URL itself is well formed
    with pytest.raises(StoreError, match="postgresql sink is not built yet"):
        await open_sink(url)


def test_queue_bound_must_hold_a_receive_window(tmp_path: Path) -> None:
    message = _error(
        tmp_path, "broker: {host: h, receive_maximum: 500}\ningest: {max_queued_messages: 100}\n"
    )
    assert message == "ingest.max_queued_messages: must be at least broker.receive_maximum (500), got 100"


def test_backlog_queue_bound_must_hold_the_backlog_receive_window(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        "broker: {host: h, backlog_receive_maximum: 300}\ningest: {max_queued_backlog_messages: 50}\n",
    )
    assert message == (
        "ingest.max_queued_backlog_messages: must be at least broker.backlog_receive_maximum (300), got 50"
    )
