"""A confirm-only peer: confirms every telemetry batch of one gateway at once (on .../telemetry and
.../telemetry/backlog), stores nothing.

Stands in for the collector when a benchmark measures what the agent alone can do (the most any
collector could get out of it). It reads only the batch key (:func:`peek_key`) and confirms each batch
in its own QoS 1 message, as soon as it arrives.

    .venv/bin/python -m bench.confirm_peer --port 1883 --site test --gateway cab-e2e
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from mqtt_session import Message, MqttLink, NotConnected
from wire import topics
from wire.confirm import Confirmation, encode_confirmation
from wire.telemetry import peek_key

log = logging.getLogger("bench.confirm_peer")


async def serve(host: str, port: int, site: str, gateway: str) -> None:
    confirm = topics.topic(site, gateway, topics.TopicKind.CONFIRM)
    confirmed = 0

    def on_message(msg: Message) -> None:
        nonlocal confirmed
        key = peek_key(msg.payload)
        if key is None:
            log.warning("unreadable batch on %s ignored", msg.topic)
            return
        try:
            link.publish(confirm, encode_confirmation(Confirmation(key.epoch, (key.seq,))), qos=1)
        except NotConnected:
            return  # the agent re-sends it after its confirm timeout
        confirmed += 1

    link = MqttLink(client_id="bench-confirm-peer", host=host, port=port)
    for kind in (topics.TopicKind.TELEMETRY, topics.TopicKind.BACKLOG):  # live batches, backlog and re-sends
        link.route(topics.topic(site, gateway, kind), on_message)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(link.run(), name="confirm-peer-mqtt")
    await stop.wait()
    await link.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    log.info("confirmed %d batches", confirmed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--site", required=True)
    ap.add_argument("--gateway", required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.host, args.port, args.site, args.gateway))


if __name__ == "__main__":
    main()
