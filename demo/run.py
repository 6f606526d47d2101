"""The demo: a simulated cabinet -> edge agent -> Mosquitto -> collector -> SQLite store.

The cabinet holds one of each kind: a DALI-to-Modbus gateway with 50 luminaires (Modbus TCP), a
retractable-bollard site (Modbus TCP) and a traffic-light controller (OPC-UA).

    bash scripts/demo.sh            # runs until Ctrl-C, showing what arrives
    bash scripts/demo.sh --for 20   # runs 20 s unattended, checks the data arrived, exits 0 (or 1)

Everything is started here as real processes on free loopback ports; files go to var/demo/.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

from demo.stack import ROOT, Stack

SHOWN = ("level", "active_power", "active_energy", "supply_voltage", "online")


OTHERS = {
    "bollard-site-1": ("state", "operating_logic", "loop_1_occupied", "cycle_counter"),
    "tlc-1": ("control_mode", "plan", "stage", "cycle_second", "sg1_color"),
}


def latest_of(store: Path, gateway: str, device: str, points: tuple[str, ...]) -> dict[str, object]:
    if not store.exists():
        return {}
    marks = ",".join("?" * len(points))
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as db:
        try:
            rows = db.execute(
                "SELECT s.point, COALESCE(r.value_text, r.value_num) FROM series s "
                "JOIN readings r ON r.series_id = s.id "
                f"WHERE s.gateway = ? AND s.device = ? AND s.point IN ({marks}) "
                "AND r.ts_ms = (SELECT MAX(ts_ms) FROM readings WHERE series_id = s.id)",
                (gateway, device, *points),
            ).fetchall()
        except sqlite3.OperationalError:
            return {}
    return dict(rows)


def store_view(store: Path, gateway: str) -> tuple[int, list[tuple[str, dict[str, object]]]]:
    """How many readings the store holds for the gateway, and the latest values of a few luminaires."""
    if not store.exists():
        return 0, []
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as db:
        try:
            total = db.execute(
                "SELECT COUNT(*) FROM readings r JOIN series s ON s.id = r.series_id WHERE s.gateway = ?",
                (gateway,),
            ).fetchone()[0]
            rows = db.execute(
                "SELECT s.device, s.point, COALESCE(r.value_text, r.value_num) FROM series s "
                "JOIN readings r ON r.series_id = s.id "
                "WHERE s.gateway = ? AND s.device IN ('lum-00','lum-01','lum-02','lum-03','lum-04') "
                "AND r.ts_ms = (SELECT MAX(ts_ms) FROM readings WHERE series_id = s.id) ORDER BY s.device",
                (gateway,),
            ).fetchall()
        except sqlite3.OperationalError:  # the collector has not created its schema yet
            return 0, []
    latest: dict[str, dict[str, object]] = {}
    for device, point, value in rows:
        latest.setdefault(device, {})[point] = value
    return int(total), sorted(latest.items())


def show(stack: Stack, started: float, history: list[tuple[float, int]], tty: bool) -> int:
    now = time.monotonic()
    total, latest = store_view(stack.store_path, stack.gateway)
    history.append((now, total))
    while len(history) > 6:
        history.pop(0)
    t0, n0 = history[0]
    rate = (total - n0) / (now - t0) if now > t0 else 0.0
    lines = [
        f"streetgate demo — {now - started:5.0f} s — {stack.luminaires} luminaires polled every "
        f"{stack.poll_interval_s:g} s (Ctrl-C to stop)",
        f"store: {stack.store_path}   readings stored: {total:,}   rate: {rate:,.0f} readings/s",
        f"{'device':8} " + " ".join(f"{p:>15}" for p in SHOWN),
    ]
    for device, values in latest:
        lines.append(f"{device:8} " + " ".join(f"{_fmt(values.get(p)):>15}" for p in SHOWN))
    for device, points in OTHERS.items():
        values = latest_of(stack.store_path, stack.gateway, device, points)
        lines.append(f"{device:15} " + "  ".join(f"{p}={_fmt(values.get(p))}" for p in points))
    text = "\n".join(lines)
    if tty:
        sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
    else:
        sys.stdout.write(lines[1] + "\n")
    sys.stdout.flush()
    return total


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.1f}"
    return "-" if v is None else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--for", dest="duration", type=float, default=None, help="run this many seconds, then check"
    )
    ap.add_argument("--luminaires", type=int, default=50)
    ap.add_argument("--workdir", type=Path, default=ROOT / "var" / "demo")
    args = ap.parse_args()
    if args.workdir.exists():
        shutil.rmtree(args.workdir)  # a fresh cabinet and a fresh store each run
    args.workdir.mkdir(parents=True)
    stack = Stack(
        args.workdir,
        luminaires=args.luminaires,
        poll_interval_s=1.0,
        confirm_timeout_s=10,
        whole_cabinet=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    tty = sys.stdout.isatty() and args.duration is None
    started = time.monotonic()
    history: list[tuple[float, int]] = []
    total = 0
    codes: dict[str, int] = {}
    try:
        stack.start()
        print(
            f"started: simulator :{stack.sim_port}, broker :{stack.broker.port if stack.broker else '?'}, "
            f"agent, collector; files in {args.workdir}"
        )
        while not stopping:
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            time.sleep(1)
            for part in (stack.sim, stack.agent, stack.collector, *stack.extra_sims):
                if part is not None and not part.running:
                    print(f"{part.name} exited unexpectedly; its log:\n{part.log.read_text()[-3000:]}")
                    return 1
            total = show(stack, started, history, tty)
    finally:
        codes = stack.stop()
    devices = {d for d, _, _ in stack.stored()}
    luminaires = {d for d in devices if d.startswith("lum-")}
    others = sorted(d for d in OTHERS if d in devices)
    print("exit codes: " + " ".join(f"{name}={rc}" for name, rc in codes.items()))
    unclean = {name: rc for name, rc in codes.items() if rc != 0}
    if unclean:
        print(f"STOP FAILED: parts exited non-zero: {unclean}", file=sys.stderr)
        print(stack.logs(), file=sys.stderr)
        return 1
    print(
        f"stopped cleanly. {total:,} readings stored from {len(luminaires)} luminaires and "
        f"{', '.join(others) or 'no other device'} in {stack.store_path}"
    )
    print(
        f"query it: .venv/bin/collector query --store sqlite:///{stack.store_path} "
        "--device lum-07 --point active_power --since 10m"
    )
    if args.duration is not None:
        if total == 0 or len(luminaires) < args.luminaires or len(others) < len(OTHERS):
            print(
                f"CHECK FAILED: expected readings from all {args.luminaires} luminaires, the bollard site "
                "and the traffic controller",
                file=sys.stderr,
            )
            print(stack.logs(), file=sys.stderr)
            return 1
        print("check passed: data from every luminaire, the bollard site and the traffic controller arrived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
