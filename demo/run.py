"""The demo: a simulated cabinet -> edge agent -> Mosquitto -> collector -> SQLite store.

The cabinet holds one of each kind: a DALI-to-Modbus gateway with 50 luminaires (Modbus TCP), a
retractable-bollard site (Modbus TCP) and a traffic-light controller (OPC-UA).

    bash scripts/demo.sh            # runs until Ctrl-C, showing what arrives
    bash scripts/demo.sh --for 20   # runs 20 s unattended, checks the data arrived, exits 0 (or 1)

Everything is started here as real processes on free loopback ports, each in its own process group
(a Ctrl-C at the terminal reaches only this process, which then stops the agent, the collector, the
simulators and the broker in that order, and exits 0 when each exited 0); files go to var/demo/.
At the end it runs tonight's lighting program in simulated time and prints the night's saving.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import signal
import sys
import time
from pathlib import Path

from pymodbus.client import ModbusTcpClient

from configfile.loader import parse
from demo.view import render, snapshot
from harness.lighting_night import night_saving
from harness.stack import ROOT, Stack
from lighting.model import ProgramSet
from lighting.sun import Place
from simulators.luminaire.gateway import SIM_CONTROL_BASE
from simulators.luminaire.model import Fault

DIJON = Place(47.32, 5.04, "Europe/Paris")
FAULTY, INJECT_AT_S, CLEAR_AT_S = 7, 5, 12  # lum-07's lamp fails 5 s into the run and is mended at 12 s
OTHERS = ("bollard-site-1", "tlc-1")  # the cabinet's other devices, besides the luminaires
REPRINT_S = 5  # without a terminal (a log, a test), the view is printed this often


def show(stack: Stack, started: float, history: list[tuple[float, int]], tty: bool, tick: int) -> None:
    """Redraw the view (a terminal), or print it every REPRINT_S seconds (no terminal; ``tick``: seconds)."""
    now = time.monotonic()
    snap = snapshot(stack.store_path, stack.gateway)
    history.append((now, snap.total))
    while len(history) > 6:
        history.pop(0)
    t0, n0 = history[0]
    rate = (snap.total - n0) / (now - t0) if now > t0 else 0.0
    lines = [
        f"streetgate demo — {now - started:5.0f} s — {stack.luminaires} luminaires, a bollard site and a "
        f"traffic controller, polled every {stack.poll_interval_s:g} s (Ctrl-C to stop)",
        f"store: {stack.store_path}",
        *render(snap, rate=rate),
    ]
    if tty:
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
    elif tick % REPRINT_S == 0:
        sys.stdout.write("\n".join(lines[2:]) + "\n")
    sys.stdout.flush()


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
        commands=True,
        lighting=True,  # the gateway runs its lighting (no set: default dusk to dawn) and judges faults
    )
    interrupted = False

    def stop(*_: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    tty = sys.stdout.isatty() and args.duration is None
    started = time.monotonic()
    history: list[tuple[float, int]] = []
    tick = 0
    try:
        stack.start()
        print(
            f"started: simulator :{stack.sim_port}, broker :{stack.broker.port if stack.broker else '?'}, "
            f"agent, collector; files in {args.workdir}"
        )
        while not interrupted:
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            time.sleep(1)
            if interrupted:
                break
            for part in (stack.sim, stack.agent, stack.collector, *stack.extra_sims):
                if part is not None and not part.running:
                    print(f"{part.name} exited unexpectedly; its log:\n{part.log.read_text()[-3000:]}")
                    return 1
            show(stack, started, history, tty, tick)
            tick += 1
            if tick in (INJECT_AT_S, CLEAR_AT_S):
                lamp_fault(stack, failed=tick == INJECT_AT_S)
    finally:
        if interrupted:
            print("\nstopping: agent, collector, simulators, broker")
        codes = stack.stop()
    outcome = report(stack, args, codes)
    if outcome == 0:
        print_night_saving(args.workdir / "night")
    return outcome


def print_night_saving(workdir: Path) -> None:
    """Tonight, in simulated time, with the shipped program set: the lighting runner, the command path
    and the luminaire simulator over a whole night, and the energy the gear counted against the old
    sodium lamps (docs/lighting.md)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = ROOT / "configs" / "lighting" / "program.example.yaml"
    pset = ProgramSet.model_validate(parse(path.read_text(encoding="utf-8"), path))
    evening = dt.date.today()
    night = asyncio.run(night_saving(pset, DIJON, evening, workdir))
    print(
        f"tonight ({evening}, Dijon) with {path.relative_to(ROOT)}, run in simulated time: "
        f"{night.luminaires} LED luminaires of {night.led_w:.0f} W used {night.used_wh / 1000:.2f} kWh; "
        f"{night.baseline_w:.0f} W sodium from dusk to dawn ({night.dark_h:.1f} h) would use "
        f"{night.baseline_wh / 1000:.2f} kWh: the night's saving is {night.saving_pct:.1f} %"
    )


def lamp_fault(stack: Stack, *, failed: bool) -> None:
    """Fail (or mend) lum-07's lamp through the simulator's sim-control register, as a test would: the
    gateway's fault monitor raises (clears) a lamp_failure event that reaches the store."""
    with ModbusTcpClient("127.0.0.1", port=stack.sim_port) as client:
        client.write_register(SIM_CONTROL_BASE + FAULTY, int(Fault.LAMP if failed else Fault.NONE))
    print(f"simulator: lum-{FAULTY:02d}'s lamp {'fails' if failed else 'is mended'}")


def report(stack: Stack, args: argparse.Namespace, codes: dict[str, int]) -> int:
    """After a stop: how each part ended, what the store holds, and (with --for) the check."""
    print("exit codes: " + " ".join(f"{name}={code}" for name, code in codes.items()))
    failed = {name: code for name, code in codes.items() if code != 0}
    snap = snapshot(stack.store_path, stack.gateway)
    luminaires = {d for d in snap.latest if d.startswith("lum-")}
    others = sorted(d for d in OTHERS if d in snap.latest)
    what = (
        f"{snap.total:,} readings stored from {len(luminaires)} luminaires and "
        f"{', '.join(others) or 'no other device'} in {stack.store_path}"
    )
    if failed:
        print(f"stopped, but not cleanly: {', '.join(f'{n} exited {c}' for n, c in failed.items())}. {what}")
        print(stack.logs(), file=sys.stderr)
        return 1
    print(f"stopped cleanly: every part exited 0. {what}")
    print(
        f"query it: .venv/bin/collector query --store sqlite:///{stack.store_path} "
        "--device lum-07 --point active_power --since 10m"
    )
    faults = [(f.device, f.fault, f.raised) for f in snap.faults]
    for f in snap.faults:
        print(f"fault event: {f.device} {f.fault} {'raised' if f.raised else 'cleared'} at_ms={f.at_ms}")
    if args.duration is not None and args.duration > CLEAR_AT_S + 5:
        lamp = f"lum-{FAULTY:02d}"
        if (lamp, "lamp_failure", True) not in faults or (lamp, "lamp_failure", False) not in faults:
            print(f"CHECK FAILED: {lamp}'s lamp failure was not raised and cleared", file=sys.stderr)
            print(stack.logs(), file=sys.stderr)
            return 1
        print(f"check passed: {lamp}'s lamp failure was raised and cleared at the edge and reached the store")
    if args.duration is not None:
        if snap.total == 0 or len(luminaires) < args.luminaires or len(others) < len(OTHERS):
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
