"""``edge-agent lighting commission`` (the CLI, a subprocess) against the simulators: on a DALI line (the
Lunatone serial interface on a pty) it stores each gear's POWER ON and SYSTEM FAILURE levels and reads
them back, and the gear then lights at that level when mains comes on; on the DALI-to-Modbus gateway
(whose map has those registers read-only) it says it cannot, and exits 1."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from drivers.dali.curve import percent_to_arc
from harness.stack import BIN
from simulators.dali.lunatone import DaliSerialSim
from simulators.luminaire.bank import LuminaireBankServer
from tests.drivers.conftest import PROFILES


def edge_agent(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "edge-agent"), *argv], capture_output=True, text=True, check=False, timeout=60
    )


async def test_commission_stores_the_levels_on_a_dali_line_and_says_the_gateway_cannot(
    tmp_path: Path,
) -> None:
    async with DaliSerialSim(count=2) as dali, LuminaireBankServer(count=1) as lamps:
        config = tmp_path / "agent.yaml"
        config.write_text(
            f"gateway: cab-1\nsite: s\nprofile_paths: [{PROFILES}]\nbuses:\n"
            f"  - name: dali-line\n    kind: dali_serial\n    port: {dali.path}\n    devices:\n"
            "      - {name: dali-00, short_address: 0, points: [level], profile: dali-luminaire}\n"
            "      - {name: dali-01, short_address: 1, points: [level], profile: dali-luminaire}\n"
            f"  - {{name: dali-gw, kind: modbus_tcp, host: 127.0.0.1, port: {lamps.port}, timeout_s: 1.0,\n"
            "     devices: [{name: lum-00, profile: dali-gw-luminaire, params: {c: 0, sa: 0}}]}\n"
        )
        before = lamps.luminaire(0).settings
        argv = ["lighting", "commission", "-c", str(config), "--power-on", "70", "--system-failure", "40"]
        done = await asyncio.to_thread(edge_agent, *argv, "--format", "json")
        assert done.returncode == 1, done.stderr  # lum-00 cannot
        outcomes = {o["device"]: o for o in json.loads(done.stdout)}
        assert outcomes["dali-00"]["done"] is True
        assert outcomes["dali-01"]["done"] is True
        assert f"arc {percent_to_arc(70)}" in outcomes["dali-00"]["detail"]
        assert outcomes["lum-00"]["done"] is False
        assert outcomes["lum-00"]["detail"].startswith("cannot: its profile maps no writable power_on_level")
        assert lamps.luminaire(0).settings == before  # nothing written to the gateway
        for sa in (0, 1):
            settings = dali.gear(sa).luminaire.settings
            assert (settings.power_on, settings.system_failure) == (percent_to_arc(70), percent_to_arc(40))
        lum = dali.gear(1).luminaire
        lum.set_arc(0)
        lum.set_mains(False)
        lum.set_mains(True)  # the contactor (or the fallback) brings mains: the gear lights by itself
        assert lum.state().arc == percent_to_arc(70)

        only = await asyncio.to_thread(edge_agent, *argv[:4], "--power-on", "55", "-d", "dali-00")
        assert only.returncode == 0, only.stdout + only.stderr
        assert "dali-00  done" in only.stdout
        assert dali.gear(0).luminaire.settings.power_on == percent_to_arc(55)
        assert dali.gear(1).luminaire.settings.power_on == percent_to_arc(70)  # not named: untouched

        dark = await asyncio.to_thread(edge_agent, *argv[:4], "--power-on", "0")
        assert dark.returncode == 2  # never dark: a power-on level of 0 is refused
