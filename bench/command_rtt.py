"""Command round trip: from the centre handing a signed ``set_level`` to the broker until the gateway's
final ``done`` is in the collector's audit; p50 / p99 / max, in two conditions measured in one run.

The real stack runs as processes (luminaire simulator, Mosquitto, collector, agent; harness/stack.py with
``commands=True``). The centre's side is what ``collector command send --wait`` does
(collector/commands/api.py ``CommandCentre.send`` and ``wait``), spelled out to time its steps: record
the command in the audit, publish it once at QoS 1 on a fresh connection (``publish_once``), record it
sent, then read the audit (``SqliteAudit.get``) until its final state is there. The clock starts when
the broker has acknowledged the command (the PUBACK: the
audit's ``sent_at_ms``) and stops when ``done`` is read, polled every ``--poll-ms`` (5 ms; the CLI polls
every 200 ms). Commands go one at a time to ``lum-00``, 80 % and 60 % alternately (each a real change);
one warm-up command first is not counted.

Conditions: (a) idle: one luminaire, polled every ``--idle-poll`` s (60); (b) load: ``--luminaires``
(50) x 10 points polled every second (bench/agent_load.py's cabinet), measured after ``--warmup`` s.

The shipped profile's set_level waits ``settle_s: 10`` before its read-back (the longest DALI fade plus a
poll), which would be the whole figure. The benchmark runs a copy of configs/profiles with
``dali-gw-luminaire``'s ``settle_s`` set to ``--settle`` (0.5 s; the simulator's gear fades in no time)
and prints the round trip with and without it. The raw limit, in the same run and through the same broker
under the same load: an MQTT publish -> echo -> receive round trip (two broker passes, like a command and
its result) at QoS 1 and at QoS 0. At QoS 1 on loopback it is about 88 ms: two waits of ~44 ms, Nagle's
algorithm meeting delayed ACKs (a PUBACK and a PUBLISH written back to back; with Mosquitto's
``set_tcp_nodelay true``, off by default, it is 44 ms), not broker work. QoS 0 is the lower bound.

    .venv/bin/python -m bench.command_rtt [--commands 50] [--luminaires 50]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from collector.commands.send import Addressed, make_command, publish_once
from collector.config import load_config
from collector.sinks import open_audit, open_sink
from harness.commands import profiles_with_settle
from harness.stack import ROOT, Stack
from mqtt_session import Message, MqttLink
from wire.commands import ResultState

DEVICE = "lum-00"
LEVELS = (80, 60)


@dataclass(frozen=True, slots=True)
class Figures:
    rtt_s: list[float]  # PUBACK -> done in the audit
    publish_s: list[float]  # publish_once: connect, publish, PUBACK, disconnect
    raw_s: list[float]  # MQTT publish -> echo -> receive, QoS 1
    raw0_s: list[float]  # the same at QoS 0


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(v: float) -> str:
    return f"{v * 1000:.1f} ms"


async def send_and_wait(stack: Stack, level: int, *, poll_s: float, timeout_s: float) -> tuple[float, float]:
    """One command as ``collector command send --wait`` sends it: (publish time, PUBACK -> done)."""
    cfg = load_config(stack.collector_config)
    assert cfg.commands is not None
    signer = cfg.commands.signer(stack.collector_config.parent.resolve())
    target = cfg.commands.gateways[stack.gateway]
    sink = await open_sink(cfg.store.url)
    await sink.close()
    audit = await open_audit(cfg.store.url)
    try:
        cmd, payload = make_command(
            signer=signer,
            gateway=stack.gateway,
            device=DEVICE,
            action="set_level",
            args={"level": level},
            issuer="bench",
            now_ms=time.time_ns() // 1_000_000,
            expires_s=cfg.commands.default_expiry_s,
        )
        await audit.record(cmd)
        t0 = time.perf_counter()
        await publish_once(
            cfg.broker.host,
            cfg.broker.port,
            client_id=f"{cfg.collector_id}-cmd-{cmd.id.hex[:8]}",
            topic=Addressed(target.site, stack.gateway).topic,
            payload=payload,
            timeout_s=10,
        )
        t1 = time.perf_counter()
        await audit.sent(cmd.id, time.time_ns() // 1_000_000)
        deadline = t1 + timeout_s
        while True:
            audited = await audit.get(str(cmd.id))
            final = audited.final if audited else None
            if final is not None:
                t2 = time.perf_counter()
                if final.state is not ResultState.DONE:
                    raise RuntimeError(f"set_level {level}: {final.state.value} ({final.reason})")
                return t1 - t0, t2 - t1
            if time.perf_counter() > deadline:
                raise RuntimeError(f"set_level {level}: no final state in {timeout_s} s:\n{stack.logs()}")
            await asyncio.sleep(poll_s)
    finally:
        await audit.close()


async def raw_round_trips(stack: Stack, count: int, qos: int) -> list[float]:
    """MQTT publish -> echo client -> receive through the stack's broker, at ``qos`` each way."""
    assert stack.broker is not None
    host, port = "127.0.0.1", stack.broker.port
    echo = MqttLink(client_id="bench-echo", host=host, port=port)
    probe = MqttLink(client_id="bench-probe", host=host, port=port)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    def bounce(msg: Message) -> None:
        echo.publish("bench/pong", msg.payload, qos=qos)

    def received(msg: Message) -> None:
        got.put_nowait(msg.payload)

    echo.route("bench/ping", bounce, qos=qos)
    probe.route("bench/pong", received, qos=qos)
    tasks = [asyncio.create_task(echo.run()), asyncio.create_task(probe.run())]
    out: list[float] = []
    try:
        for link in (echo, probe):
            await asyncio.wait_for(link.subscribed.wait(), 10)
        payload = os.urandom(300)  # about a signed command's size
        for i in range(count + 1):
            t0 = time.perf_counter()
            probe.publish("bench/ping", payload, qos=qos)
            await asyncio.wait_for(got.get(), 10)
            if i:  # the first one warms up
                out.append(time.perf_counter() - t0)
    finally:
        for link in (echo, probe):
            await link.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return out


async def warm_up(stack: Stack, *, poll_s: float, tries: int = 6, timeout_s: float = 15) -> None:
    """One command done: the agent has subscribed to its command topic. The agent process gives no sign
    of its SUBACK, and a command published before it is dropped by the broker (no subscriber yet) and
    never completes: on a loaded host that takes more than the warm-up, so send again."""
    for attempt in range(1, tries + 1):
        try:
            await send_and_wait(stack, 50, poll_s=poll_s, timeout_s=timeout_s)
            return
        except RuntimeError:
            if attempt == tries:
                raise


async def measure(stack: Stack, count: int, poll_s: float) -> Figures:
    await warm_up(stack, poll_s=poll_s)
    publish, rtt = [], []
    for i in range(count):
        p, r = await send_and_wait(stack, LEVELS[i % 2], poll_s=poll_s, timeout_s=60)
        publish.append(p)
        rtt.append(r)
    raw = await raw_round_trips(stack, count, 1)
    raw0 = await raw_round_trips(stack, count, 0)
    return Figures(rtt, publish, raw, raw0)


def run_condition(
    work: Path, profiles: Path, *, luminaires: int, poll_s: float, warmup: float, args: argparse.Namespace
) -> Figures:
    work.mkdir()
    stack = Stack(
        work,
        luminaires=luminaires,
        poll_interval_s=poll_s,
        confirm_timeout_s=15,
        commands=True,
        profile_dir=profiles,
    )
    stack.start()
    try:
        time.sleep(warmup)
        return asyncio.run(measure(stack, args.commands, args.poll_ms / 1000))
    finally:
        stack.stop()


def report(name: str, f: Figures, settle_s: float) -> None:
    def line(values: list[float]) -> str:
        return f"p50 {ms(pct(values, 0.5))}, p99 {ms(pct(values, 0.99))}, max {ms(max(values))}"

    net = [v - settle_s for v in f.rtt_s]
    print(f"{name}: command round trip (PUBACK -> done in the audit): {line(f.rtt_s)}")
    print(f"{name}: round trip minus settle ({settle_s} s): {line(net)}")
    print(f"{name}: publish_once (connect, publish, PUBACK, disconnect): {line(f.publish_s)}")
    print(f"{name}: raw MQTT round trip (QoS 1, publish -> echo -> receive): {line(f.raw_s)}")
    print(f"{name}: raw MQTT round trip (QoS 0, publish -> echo -> receive): {line(f.raw0_s)}")
    for qos, raw in ((1, f.raw_s), (0, f.raw0_s)):
        print(
            f"{name}: ratio of round trip minus settle to raw QoS {qos}: "
            f"p50 {pct(net, 0.5) / pct(raw, 0.5):.2f}x, p99 {pct(net, 0.99) / pct(raw, 0.99):.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=50, help="commands measured per condition")
    ap.add_argument("--luminaires", type=int, default=50, help="luminaires of the loaded cabinet")
    ap.add_argument("--settle", type=float, default=0.5, help="set_level's read-back settle_s, s")
    ap.add_argument("--idle-poll", type=float, default=60, help="the idle luminaire's poll interval, s")
    ap.add_argument("--warmup", type=float, default=10, help="the loaded cabinet polls this long first, s")
    ap.add_argument("--poll-ms", type=float, default=5, help="how often the audit is read, ms")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        profiles = profiles_with_settle(ROOT / "configs" / "profiles", work / "profiles", args.settle)
        idle = run_condition(
            work / "idle", profiles, luminaires=1, poll_s=args.idle_poll, warmup=1, args=args
        )
        load = run_condition(
            work / "load", profiles, luminaires=args.luminaires, poll_s=1.0, warmup=args.warmup, args=args
        )
    cores = os.cpu_count()
    print(
        f"machine: {platform.machine()}, {cores} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"conditions: {args.commands} set_level commands per condition, one at a time, 80/60 % alternately; "
        f"settle_s {args.settle} s (a copy of dali-gw-luminaire.yaml; the shipped profile has 10 s); "
        f"audit read every {args.poll_ms:g} ms"
    )
    report(f"idle (1 luminaire polled every {args.idle_poll:g} s)", idle, args.settle)
    report(f"load ({args.luminaires} luminaires x 10 points every 1 s)", load, args.settle)


if __name__ == "__main__":
    main()
