"""The outbox: command results and events, durable until the collector confirms them, never dropped.

commands/lighting → ``outbox/store.py`` (put: committed before it returns; full: new work is refused
with a reason, results are still taken) → ``outbox/sender.py`` (its own task: publishes as soon as
the link is up, ahead of the telemetry backlog) ⇢ broker ⇢ collector/ingest/outbox ⇢ ``.../outbox/confirm``
⇢ sender → store (ack: the message leaves).
"""
