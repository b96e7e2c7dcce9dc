import { SQL } from "bun";
import type { LockName, SqlDialect } from "./sql-dialect.ts";
import { mustRow, type Row } from "./store-rows.ts";

/**
 * Tables are prefixed `dlm_` so the queue can live in a database a team already runs.
 *
 * The event sequence is a one-row counter (`dlm_event_counter`), not a SEQUENCE: a transaction that stores
 * an event increments it as its last write and holds its row lock until it commits, so events commit in
 * seq order and a rolled-back transaction gives its number back. A reader of `seq > N` therefore never
 * misses an event that commits later with a smaller number, which a SEQUENCE (numbers taken at insert,
 * committed in any order, never given back) would allow.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE dlm_downloads (
      id BIGSERIAL PRIMARY KEY,
      request_id TEXT UNIQUE,
      url TEXT NOT NULL,
      output TEXT,
      directory TEXT NOT NULL DEFAULT '',
      path TEXT,
      headers TEXT NOT NULL DEFAULT '[]',
      checksum TEXT,
      connections INTEGER NOT NULL DEFAULT 0,
      speed_limit BIGINT NOT NULL DEFAULT 0,
      priority INTEGER NOT NULL DEFAULT 0,
      position BIGINT NOT NULL,
      labels TEXT NOT NULL DEFAULT '[]',
      state TEXT NOT NULL,
      failure TEXT,
      next_try_at BIGINT,
      attempts INTEGER NOT NULL DEFAULT 0,
      bytes_downloaded BIGINT NOT NULL DEFAULT 0,
      total_bytes BIGINT,
      sha256 TEXT,
      node TEXT,
      lease_until TIMESTAMPTZ,
      requested TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`,
    "CREATE INDEX dlm_downloads_order ON dlm_downloads (priority DESC, position, id)",
    "CREATE INDEX dlm_downloads_state ON dlm_downloads (state)",
    `CREATE TABLE dlm_events (
      seq BIGINT PRIMARY KEY,
      download_id BIGINT NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      at BIGINT NOT NULL
    )`,
    `CREATE TABLE dlm_event_counter (
      only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
      last BIGINT NOT NULL
    )`,
    "INSERT INTO dlm_event_counter (last) VALUES (0)",
    // Every node LISTENs on dlm_events; a trigger sends it on commit, so writers need no extra round trip.
    `CREATE FUNCTION dlm_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('dlm_events', ''); RETURN NULL; END $$`,
    `CREATE TRIGGER dlm_events_notify AFTER INSERT ON dlm_events
      FOR EACH STATEMENT EXECUTE FUNCTION dlm_notify_events()`,
  ],
  [
    // Events stored before credential headers became write-only held their values: drop every header.
    "UPDATE dlm_events SET payload = jsonb_set(payload::jsonb, '{headers}', '[]'::jsonb)::text",
    // Which process holds each node name (see Store.claimNode), on the database's clock.
    `CREATE TABLE dlm_nodes (
      name TEXT PRIMARY KEY,
      token TEXT NOT NULL,
      host TEXT NOT NULL,
      pid INTEGER NOT NULL,
      until TIMESTAMPTZ NOT NULL
    )`,
  ],
  [
    // Mirrors of the file (JSON array of URLs).
    "ALTER TABLE dlm_downloads ADD COLUMN mirrors TEXT NOT NULL DEFAULT '[]'",
  ],
];

/** The schema version this code reads and writes on PostgreSQL. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock keys (any numbers): migrations of nodes that start at once, claims of node names (a new
 * name has no row to lock yet), position changes (Add, move) of all nodes. */
const LOCKS: Readonly<Record<LockName, number>> = {
  migrations: 0x646c6d,
  nodes: 0x646c6d6e,
  positions: 0x646c6d70,
};

/** Connections per node: a transaction or two at a time, plus the LISTEN connection Bun opens itself. */
const POOL_SIZE = 4;

/**
 * PostgreSQL, several `dlm serve` nodes sharing one queue: a pool of connections, row locks (SKIP LOCKED
 * where a row another node is taking can be left to it), leases on the database's clock, and LISTEN/NOTIFY
 * so other nodes hear of events and pause requests (the manager also polls, so a lost notification costs
 * at most a second).
 */
export const postgresDialect: SqlDialect = {
  shared: true,
  oneConnection: false,
  tables: {
    downloads: "dlm_downloads",
    events: "dlm_events",
    nodes: "dlm_nodes",
    version: "dlm_schema_version",
  },
  migrations: MIGRATIONS,
  open: async (url) => new SQL({ url, max: POOL_SIZE, connectionTimeout: 10 }),
  clock: (sql) => sql`now()`,
  leaseEnd: (sql, leaseMs) => sql`(now() + ${leaseMs} * interval '1 millisecond')`,
  lockRows: (sql) => sql`FOR UPDATE`,
  lockFreeRows: (sql) => sql`FOR UPDATE SKIP LOCKED`,
  async lock(tx, lock) {
    await tx`SELECT pg_advisory_xact_lock(${LOCKS[lock]})`;
  },
  labelValues: (sql) => sql`jsonb_array_elements_text(labels::jsonb) AS l(value)`,
  payloadBytes: (sql) => sql`octet_length(payload)`,
  lastSeq: (sql) => sql`(SELECT last FROM dlm_event_counter)`,
  async appendEvent(tx, c) {
    // The counter's row lock, taken here, is held until commit: no other event can commit with a higher
    // seq before this one (see MIGRATIONS).
    const rows: Row[] = await tx`WITH next AS (UPDATE dlm_event_counter SET last = last + 1 RETURNING last)
      INSERT INTO dlm_events (seq, download_id, kind, payload, at)
      SELECT last, ${c.download_id}, ${c.kind}, ${c.payload}, ${c.at} FROM next
      RETURNING seq`;
    return Number(mustRow(rows)["seq"]);
  },
  async notify(tx, channel, payload) {
    await tx`SELECT pg_notify(${channel}, ${payload})`;
  },
  async listen(db, wake) {
    // The third argument runs after every (re)subscription: notifications sent while Bun reconnected
    // are lost, so the manager catches up at once.
    const onEvents = () => wake("events");
    const onRequests = () => wake("requests");
    const events = await db.listen("dlm_events", onEvents, onEvents);
    const requests = await db.listen("dlm_requests", onRequests, onRequests);
    return async () => {
      await events.unlisten();
      await requests.unlisten();
    };
  },
};
