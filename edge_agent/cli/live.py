"""``edge-agent status`` and ``edge-agent read``: ask the running agent over its local socket.

Exit codes: 0 fine; 1 no agent runs (status) or the device did not answer (read); 2 bad config or
arguments (an unknown device or point: the close names are listed); 3 the agent runs but something
needs a look (a device offline or with bad points, the uplink down; or some points of a read came back
bad).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from edge_agent.cli.output import Format, unknown
from edge_agent.config.load import ResolvedConfig
from edge_agent.counters import DROPS, Counter

DEGRADED = 3


class NoAgent(Exception):
    pass


def ask(path: Path, request: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    """One request to the running agent; :class:`NoAgent` when nothing listens at ``path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps(request).encode() + b"\n")
            chunks: list[bytes] = []
            while not chunks or not chunks[-1].endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise NoAgent(f"no agent is running (nothing listens at {path})") from exc
    answer: dict[str, Any] = json.loads(b"".join(chunks))
    return answer


def _ts(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _bad_points(d: dict[str, Any]) -> dict[str, str]:
    """Points of an answering device that gave no usable value (an older agent reports none)."""
    bad: dict[str, str] = d.get("bad_points") or {}
    return bad if d["online"] else {}


def degraded(st: dict[str, Any]) -> bool:
    devices = st["devices"].values()
    return (
        any(d["online"] is False or _bad_points(d) for d in devices)
        or not st["uplink"]["connected"]
        or bool(st["buffer"].get("disk_full"))
        or bool((st.get("outbox") or {}).get("refusal"))
    )


def print_status(st: dict[str, Any]) -> int:
    up, buf, devices = st["uplink"], st["buffer"], st["devices"]
    offline = sorted(d for d, v in devices.items() if v["online"] is False)
    with_bad = sorted(d for d, v in devices.items() if _bad_points(v))
    typer.echo(f"agent {st['gateway']} at site {st['site']} (version {st['version']}, {st['config']})")
    state = "connected" if up["connected"] else f"NOT connected ({up['last_error'] or 'connecting'})"
    typer.echo(
        f"uplink  {state} to {up['broker']}; {up['in_flight_batches']} batches in flight; "
        f"{up[Counter.BATCHES_SENT]} sent, {up[Counter.BATCHES_RESENT]} re-sent; "
        f"{buf[Counter.CONFIRMED]} readings confirmed, {buf[Counter.REJECTED]} rejected"
    )
    age = "-" if buf["oldest_age_s"] is None else f"{buf['oldest_age_s']:.1f} s"
    drops = {c.reason: buf[c] for c in DROPS if buf.get(c)}
    dropped = sum(drops.values())
    why = f" ({', '.join(f'{n} {k}' for k, n in sorted(drops.items()))})" if drops else ""
    cap = f" of {buf['cap_bytes'] / 1e6:.1f} MB cap" if buf.get("cap_bytes") else ""
    disk = "; DISK FULL (the card limits the buffer)" if buf.get("disk_full") else ""
    typer.echo(
        f"buffer  {buf['unsealed_readings']} readings waiting, {buf['unconfirmed_batches']} batches "
        f"({buf['unconfirmed_readings']} readings) unconfirmed, oldest {age}, {buf['bytes'] / 1e6:.1f} MB"
        f"{cap}; dropped {dropped}{why}{disk}"
    )
    if (box := st.get("outbox")) is not None:  # an older agent has none
        refusing = f"; REFUSING NEW WORK: {box['refusal']}" if box.get("refusal") else ""
        typer.echo(
            f"outbox  {box['depth']} of {box['bound']} results and events unconfirmed, "
            f"{box[Counter.OUTBOX_CONFIRMED]} confirmed, {box[Counter.OUTBOX_REFUSED]} refused{refusing}"
        )
    typer.echo(
        f"devices {len(devices)}: {len(devices) - len(offline)} online ({len(with_bad)} with bad points), "
        f"{len(offline)} offline"
    )
    typer.echo(
        f"{'DEVICE':16} {'BUS':12} {'ONLINE':7} {'LAST POLL (UTC)':20} {'POLLS':>7} {'FAILS':>6}  LAST ERROR"
    )
    for name, d in sorted(devices.items()):
        online = {True: "yes", False: "NO", None: "?"}[d["online"]]
        typer.echo(
            f"{name:16} {d['bus']:12} {online:7} {_ts(d['last_poll_ms']):20} {d['polls']:>7} "
            f"{d['failures']:>6}  {d['last_error'] or ''}"
        )
        for point, reason in sorted(_bad_points(d).items()):
            typer.echo(f"{'':16} bad point {point}: {reason}")
        if (flag := d.get("maintenance") or {}).get("on"):
            why = f": {flag['reason']}" if flag.get("reason") else ""
            typer.echo(
                f"{'':16} MAINTENANCE MODE since {_ts(flag['since_ms'])} (only emergency commands){why}"
            )
    return DEGRADED if degraded(st) else 0


def status_command(cfg: ResolvedConfig, fmt: Format) -> int:
    try:
        st = ask(cfg.status_socket, {"cmd": "status"})
    except NoAgent as exc:
        typer.echo(str(exc), err=True)
        return 1
    if fmt is Format.JSON:
        typer.echo(json.dumps(st))
        return DEGRADED if degraded(st) else 0
    return print_status(st)


def read_command(cfg: ResolvedConfig, device: str, point: str | None, fmt: Format) -> int:
    spec = next((d for d in cfg.devices if d.name == device), None)
    if spec is None:
        typer.echo(f"{unknown('device', device, (d.name for d in cfg.devices))} (in {cfg.source})", err=True)
        return 2
    if point is not None and point not in {p.name for p in spec.points}:
        typer.echo(f"{device}: {unknown('point', point, (p.name for p in spec.points))}", err=True)
        return 2
    try:
        answer = ask(cfg.status_socket, {"cmd": "read", "device": device})
        via = "through the running agent"
    except NoAgent:
        answer = asyncio.run(_read_directly(cfg, device))
        via = "directly (no agent is running)"
    if not answer["ok"]:
        error = str(answer["error"]).removeprefix(f"{device}: ")  # a DriverError's text names the device
        typer.echo(f"{device}: {error}", err=True)
        return 1
    values = [v for v in answer["values"] if point is None or v["point"] == point]
    units = {p.name: p.unit or "" for p in spec.points}
    if fmt is Format.JSON:
        typer.echo(json.dumps({"device": device, "ts_ms": answer["ts_ms"], "via": via, "values": values}))
    else:
        typer.echo(f"{device} at {_ts(answer['ts_ms'])} UTC, read {via}")
        typer.echo(f"{'POINT':24} {'VALUE':>14} {'UNIT':6} QUALITY")
        for v in values:
            shown = "-" if v["value"] is None else str(v["value"])
            quality = "good" if v["error"] is None else f"BAD: {v['error']}"
            typer.echo(f"{v['point']:24} {shown:>14} {units.get(v['point'], ''):6} {quality}")
    return DEGRADED if any(v["error"] for v in values) else 0


async def _read_directly(cfg: ResolvedConfig, device: str) -> dict[str, Any]:
    from drivers.errors import DriverError
    from drivers.scheduler import BusScheduler
    from edge_agent.poll.build import build_driver

    bus = next(b for b in cfg.buses if any(d.name == device for d in b.devices))
    driver = build_driver(bus, BusScheduler(bus.name, bus.link.frame_gap_s))
    try:
        values = await driver.read(device)
    except DriverError as exc:
        return {"ok": False, "error": str(exc)}
    finally:
        await driver.aclose()
    ts = time.time_ns() // 1_000_000
    return {
        "ok": True,
        "ts_ms": ts,
        "values": [{"point": v.point, "value": v.value, "error": v.error} for v in values],
    }
