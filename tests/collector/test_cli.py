"""The command line: check-config, query and quarantine (exit codes, output formats)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.sinks import open_outbox_store, open_sink
from collector.sinks.base import OutboxRecord
from tests.collector.harness import EPOCH, T0
from wire.points import Quality, Reading
from wire.telemetry import BatchKey, TelemetryBatch

EXAMPLE = Path(__file__).parents[2] / "configs" / "collector.example.yaml"
RANGE = ["--since", "2026-01-01T00:00:00Z", "--until", "2026-01-01T01:00:00"]
runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store with three readings of lum-07/active_power (two gateways) and one quarantined payload."""
    url = f"sqlite:///{tmp_path}/c.db"

    async def fill() -> None:
        sink = await open_sink(url)
        try:
            await sink.write(
                [
                    TelemetryBatch(
                        BatchKey("cab-0042", EPOCH, 1),
                        (
                            Reading("lum-07", "active_power", T0 + 1, 41.5),
                            Reading("lum-07", "active_power", T0 + 2000, None, Quality.OFFLINE, "timeout"),
                            Reading("lum-07", "on", T0, True),
                        ),
                    ),
                    TelemetryBatch(
                        BatchKey("cab-0043", EPOCH, 1), (Reading("lum-07", "active_power", T0 + 1000, 7),)
                    ),
                ]
            )
            await sink.quarantine(
                "streetgate/v1/n/cab-0042/telemetry", b"\xc1xx", "not msgpack: bad", "cab-0042"
            )
        finally:
            await sink.close()

    asyncio.run(fill())
    return url


def query(store: str, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(
        app, ["query", "--device", "lum-07", "--point", "active_power", *RANGE, "--store", store, *args]
    )
    return r.exit_code, r.stdout, r.stderr


def test_check_config_ok() -> None:
    r = runner.invoke(app, ["check-config", str(EXAMPLE)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"OK {EXAMPLE}\n")
    assert "streetgate/v1/+/+/telemetry (live)" in r.stdout
    assert "streetgate/v1/+/+/telemetry/backlog (backlog, client id collector-1-backlog)" in r.stdout


def test_check_config_error_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("broker: {host: h, port: 99999}\n")
    r = runner.invoke(app, ["check-config", str(bad)])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"{bad}: broker.port: ")
    assert r.stdout == ""


def test_check_config_missing_file_exits_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["check-config", str(tmp_path / "nope.yaml")]).exit_code == 2


def test_query_table(store: str) -> None:
    code, out, _ = query(store)
    assert code == 0
    assert out.splitlines() == [
        "ts                        value  quality  gateway   reason",
        "2026-01-01T00:00:00.001Z  41.5   GOOD     cab-0042",
        "2026-01-01T00:00:01.000Z  7      GOOD     cab-0043",
        "2026-01-01T00:00:02.000Z  null   OFFLINE  cab-0042  timeout",
    ]


def test_query_csv_with_gateway_filter(store: str) -> None:
    code, out, _ = query(store, "--format", "csv", "--gateway", "cab-0042")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["ts"], r["value"], r["quality"], r["reason"]) for r in rows] == [
        ("2026-01-01T00:00:00.001Z", "41.5", "GOOD", ""),
        ("2026-01-01T00:00:02.000Z", "null", "OFFLINE", "timeout"),
    ]


def test_query_json_keeps_value_types(store: str) -> None:
    code, out, _ = query(store, "--format", "json", "--limit", "2")
    assert code == 0
    rows = json.loads(out)
    assert [(r["ts_ms"], r["value"], r["gateway"]) for r in rows] == [
        (T0 + 1, 41.5, "cab-0042"),
        (T0 + 1000, 7, "cab-0043"),
    ]
    assert isinstance(rows[1]["value"], int)
    r = runner.invoke(
        app, ["query", "--device", "lum-07", "--point", "on", *RANGE, "--store", store, "-f", "json"]
    )
    assert json.loads(r.stdout)[0]["value"] is True


def test_query_without_rows_exits_1_and_says_so(store: str) -> None:
    code, out, err = query(store, "--gateway", "cab-0043", "--until", "2026-01-01T00:00:00.5Z")
    assert (code, out) == (1, "")
    assert "no readings of lum-07/active_power of gateway cab-0043 in [" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "lum-7"], "unknown device 'lum-7' (close names: lum-07) in the store\n"),
        (["--device", "pump1"], "unknown device 'pump1' (known: lum-07) in the store\n"),
        (["--point", "active_powr"], "unknown point of lum-07 'active_powr' (close names: active_power)"),
        (["--gateway", "cab-0044"], "unknown gateway 'cab-0044' (close names: cab-0043, cab-0042)"),
        (["--gateway", "cab-0043", "--point", "on"], "unknown point of lum-07 'on' (known: active_power)"),
    ],
)
def test_query_of_what_the_store_never_saw_exits_2_with_close_names(
    store: str, args: list[str], message: str
) -> None:
    code, out, err = query(store, *args)  # later options win over query()'s --device and --point
    assert (code, out) == (2, "")
    assert err.startswith(message), err


def test_query_relative_since_finds_nothing_old(store: str) -> None:
    r = runner.invoke(
        app, ["query", "--device", "lum-07", "--point", "active_power", "--since", "15m", "--store", store]
    )
    assert r.exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--since", "1h", "--until", "2h"],  # since after until
        ["--since", "1h", "--limit", "0"],
        ["--since", "1h", "--format", "xml"],
    ],
)
def test_query_bad_arguments_exit_2(store: str, args: list[str]) -> None:
    r = runner.invoke(app, ["query", "--device", "d", "--point", "p", "--store", store, *args])
    assert r.exit_code == 2, r.output


def test_query_needs_exactly_one_of_config_and_store(store: str) -> None:
    base = ["query", "--device", "d", "--point", "p", "--since", "1h"]
    assert runner.invoke(app, base).exit_code == 2
    both = runner.invoke(app, [*base, "--store", store, "--config", str(EXAMPLE)])
    assert both.exit_code == 2
    assert "exactly one of --config FILE or --store URL" in both.stderr


def test_query_missing_store_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        ["query", "--device", "d", "--point", "p", "--since", "1h", "--store", f"sqlite:///{tmp_path}/x.db"],
    )
    assert r.exit_code == 2
    assert "no store at" in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_query_through_the_config_file(tmp_path: Path, store: str) -> None:
    cfg = tmp_path / "collector.yaml"
    cfg.write_text("broker: {host: h}\nstore: {url: 'sqlite:///c.db'}\n")  # relative to the config file
    r = runner.invoke(
        app, ["query", "--device", "lum-07", "--point", "active_power", *RANGE, "--config", str(cfg)]
    )
    assert r.exit_code == 0
    assert len(r.stdout.splitlines()) == 4


def test_quarantine_listing(store: str) -> None:
    r = runner.invoke(app, ["quarantine", "--store", store])
    assert r.exit_code == 0
    header, row = r.stdout.splitlines()
    assert header.split() == ["received", "topic", "reason", "size"]
    assert "streetgate/v1/n/cab-0042/telemetry  not msgpack: bad  3" in row


def test_outbox_lists_results_and_events_newest_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"

    async def fill() -> None:
        sink = await open_sink(url)
        await sink.close()
        store = await open_outbox_store(url)
        try:
            await store.write(
                [
                    OutboxRecord("cab-0042", EPOCH, 1, "event", "lamp_failure", "lum-07", T0, b"e1"),
                    OutboxRecord("cab-0043", EPOCH, 1, "cmd/result", "done", "0f8e7a3c", T0 + 1000, b"r1"),
                ]
            )
        finally:
            await store.close()

    asyncio.run(fill())
    r = runner.invoke(app, ["outbox", "--store", url, "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [(x["gateway"], x["kind"], x["what"], x["subject"]) for x in rows] == [
        ("cab-0043", "cmd/result", "done", "0f8e7a3c"),
        ("cab-0042", "event", "lamp_failure", "lum-07"),
    ]
    r = runner.invoke(app, ["outbox", "--store", url, "--gateway", "cab-0042"])
    assert r.exit_code == 0, r.output
    assert "lamp_failure" in r.stdout
    assert "done" not in r.stdout
