"""The SQLite store's schema (version 4) and the statements the sink runs on it.

Per-series rows built for time-range queries (``readings_series_ts``), not JSON blobs. A value keeps its
Python type through ``value_kind`` (see :mod:`collector.sinks.value`). There is no unique (series, ts):
a gateway clock stepping back may legitimately give two readings the same ts; exactly-once is the job of
``batches``' unique key, and ``batches.digest`` (:func:`wire.telemetry.content_digest`) tells a re-sent
batch (same digest: a duplicate) from a re-used key (another digest: a conflict).

Version 2 added ``batches.digest``; :data:`MIGRATIONS` brings an older store up to date at open (rows
stored before have no digest, and a re-send of one of them counts as a duplicate: nothing to compare).
Version 3 added ``outbox_messages``: gateways' command results and events, stored once by their outbox
key (:mod:`collector.sinks.sqlite_outbox`). Version 4 added ``commands_sent``: the commands the centre
signed and sent, for the audit (:mod:`collector.sinks.sqlite_audit`); their results are the
``cmd/result`` rows of ``outbox_messages``. Version 5 added ``lighting_pushes``: the program sets the
centre signed for each gateway (:mod:`collector.sinks.sqlite_lighting`), so a rollback can re-sign one;
what the gateways did with them are the ``lighting_*`` events of ``outbox_messages``.
"""

OUTBOX_TABLE = """CREATE TABLE IF NOT EXISTS outbox_messages (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL,
    epoch TEXT NOT NULL,  -- the gateway's outbox epoch (not its buffer's)
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,  -- the topic kind it came on: cmd/result or event
    what TEXT NOT NULL,  -- the event's kind, or the result's state
    subject TEXT NOT NULL,  -- the event's device, or the result's command id
    at_ms INTEGER NOT NULL,  -- the event's time, or the result's
    body BLOB NOT NULL,  -- the signed result envelope or the event, as sent
    digest BLOB NOT NULL,  -- wire.outbox.body_digest: a re-send (same) from a re-used key (other)
    stored_at_ms INTEGER NOT NULL,
    UNIQUE (gateway, epoch, seq)
)"""
COMMANDS_TABLE = """CREATE TABLE IF NOT EXISTS commands_sent (
    id TEXT PRIMARY KEY,  -- the command's UUID
    gateway TEXT NOT NULL,
    device TEXT NOT NULL,
    action TEXT NOT NULL,
    args TEXT NOT NULL,  -- JSON
    issuer TEXT NOT NULL,  -- who asked (the operator the centre authenticated; the OS user for the CLI)
    key_id TEXT NOT NULL,  -- the centre's key that signed it
    issued_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    sent_at_ms INTEGER,  -- when the broker took it; NULL: not (yet) sent
    send_error TEXT  -- why the broker did not take it
)"""
LIGHTING_TABLE = """CREATE TABLE IF NOT EXISTS lighting_pushes (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL,
    version INTEGER NOT NULL,
    rollback INTEGER NOT NULL,  -- 1: a signed return to an earlier version
    issued_at_ms INTEGER NOT NULL,
    issuer TEXT NOT NULL,
    key_id TEXT NOT NULL,
    program_set TEXT NOT NULL,  -- JSON, as validated and signed
    sent_at_ms INTEGER,  -- when the broker took it (retained); NULL: not sent
    send_error TEXT
)"""
SCHEMA_VERSION = 5  # PRAGMA user_version
MIGRATIONS = {  # one statement from version N to N + 1
    1: "ALTER TABLE batches ADD COLUMN digest BLOB",
    2: OUTBOX_TABLE,
    3: COMMANDS_TABLE,
    4: LIGHTING_TABLE,
}
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL,
    device TEXT NOT NULL,
    point TEXT NOT NULL,
    UNIQUE (gateway, device, point)
);
CREATE INDEX IF NOT EXISTS series_device_point ON series (device, point);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    gateway TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    stored_at_ms INTEGER NOT NULL,
    digest BLOB,  -- NULL only for batches stored by a version-1 store
    UNIQUE (gateway, epoch, seq)
);
CREATE TABLE IF NOT EXISTS readings (
    series_id INTEGER NOT NULL REFERENCES series (id),
    ts_ms INTEGER NOT NULL,
    value_kind INTEGER NOT NULL,  -- collector.sinks.value.ValueKind
    value_num REAL,
    value_text TEXT,
    quality INTEGER NOT NULL,
    reason TEXT,
    batch_id INTEGER NOT NULL REFERENCES batches (id)
);
CREATE INDEX IF NOT EXISTS readings_series_ts ON readings (series_id, ts_ms);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received_at_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    gateway TEXT,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL
);
{OUTBOX_TABLE};
{COMMANDS_TABLE};
{LIGHTING_TABLE};
"""
INSERT_BATCHES = """INSERT INTO batches (gateway, epoch, seq, readings, stored_at_ms, digest) VALUES {values}
    ON CONFLICT (gateway, epoch, seq) DO NOTHING RETURNING gateway, epoch, seq, id"""
KEYS_PER_STATEMENT = 1000  # 6 parameters each, well under SQLite's limit of 32766
SELECT_DIGEST = "SELECT digest FROM batches WHERE gateway = ? AND epoch = ? AND seq = ?"
INSERT_READING = """INSERT INTO readings
    (series_id, ts_ms, value_kind, value_num, value_text, quality, reason, batch_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
SELECT_READINGS = """SELECT s.gateway, s.device, s.point, r.ts_ms, r.value_kind, r.value_num, r.value_text,
    r.quality, r.reason FROM readings r JOIN series s ON s.id = r.series_id
    WHERE s.device = ? AND s.point = ? {gateway} AND r.ts_ms >= ? AND r.ts_ms < ?
    ORDER BY r.ts_ms, s.gateway, r.rowid LIMIT ?"""
