// Over 300 lines: one store, the same contract as sqlite-store.ts plus leases; every method is a query or
// two, and splitting them would separate the schema from the statements that depend on it.
import { SQL } from "bun";
import type {
  DownloadRecord,
  EventKind,
  NewDownload,
  QueueState,
  RecordPatch,
  StoredEvent,
} from "./download-record.ts";
import type { NodeClaim } from "./node-claim.ts";
import { QUEUE_ORDER_SQL } from "./queue-order.ts";
import type { AddOutcome, Heartbeat, RecordFilter, Store } from "./store.ts";
import {
  asState,
  eventPayload,
  heartbeatOf,
  mustRow,
  nodeClaimOf,
  type Row,
  recordColumns,
  toEvent,
  toRecord,
  withLeaseRule,
} from "./store-rows.ts";

/**
 * Schema migrations, in order, as for SQLite. Tables are prefixed `dlm_` so the queue can live in a
 * database a team already runs.
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

/** The schema version this code reads and writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Any number: serialises migrations of nodes that start at once. */
const MIGRATION_LOCK = 0x646c6d;

/** Any number: serialises claims of node names. */
const NODE_LOCK = 0x646c6d6e;

/** Any number: serialises the position changes (Add, move) of all nodes. */
const POSITION_LOCK = 0x646c6d70;

/** Connections per node: a transaction or two at a time, plus the LISTEN connection Bun opens itself. */
const POOL_SIZE = 4;

/** A lease's end as an SQL fragment on the database's clock, so the nodes' clocks need not agree. */
function leaseEnd(db: SQL, leaseMs: number) {
  return db`now() + ${leaseMs} * interval '1 millisecond'`;
}

/**
 * The Store on PostgreSQL through Bun's built-in SQL client, for several `dlm serve` nodes sharing one
 * queue. Leases use the database's clock. Other nodes' events and pause requests arrive through
 * LISTEN/NOTIFY (`onChange`); the manager also polls, so a lost notification costs at most a second.
 */
export class PostgresStore implements Store {
  readonly shared = true;
  readonly #db: SQL;

  private constructor(db: SQL) {
    this.#db = db;
  }

  /** Connects to `url` (postgres://…) and migrates the schema to PG_SCHEMA_VERSION. */
  static async open(url: string): Promise<PostgresStore> {
    const db = new SQL({ url, max: POOL_SIZE, connectionTimeout: 10 });
    try {
      await migrate(db);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    return new PostgresStore(db);
  }

  async add(input: NewDownload, now: number): Promise<AddOutcome> {
    return this.#db.begin(async (tx) => {
      const existing = async (): Promise<AddOutcome | undefined> => {
        if (input.requestId === undefined) return undefined;
        const found: Row[] = await tx`SELECT * FROM dlm_downloads WHERE request_id = ${input.requestId}`;
        return found[0] === undefined
          ? undefined
          : { record: toRecord(found[0]), created: false, event: undefined };
      };
      const before = await existing();
      if (before !== undefined) return before;
      await tx`SELECT pg_advisory_xact_lock(${POSITION_LOCK})`;
      const inserted: Row[] = await tx`INSERT INTO dlm_downloads (
          request_id, url, output, directory, headers, mirrors, checksum, connections, speed_limit, priority,
          position, labels, state, created_at, updated_at)
        VALUES (${input.requestId ?? null}, ${input.url}, ${input.output ?? null}, ${input.directory},
          ${JSON.stringify(input.headers)}, ${JSON.stringify(input.mirrors)}, ${input.checksum ?? null}, ${input.connections},
          ${input.speedLimit}, ${input.priority},
          (SELECT COALESCE(MAX(position), 0) + 1 FROM dlm_downloads), ${JSON.stringify(input.labels)},
          ${input.state}, ${now}, ${now})
        ON CONFLICT (request_id) DO NOTHING
        RETURNING *`;
      // Another node added the same request_id at the same moment: that one is the download.
      if (inserted[0] === undefined) return (await existing()) ?? Promise.reject(new Error("add: lost row"));
      const record = toRecord(inserted[0]);
      const event = await appendEvent(tx, "added", record, now);
      return { record, created: true, event };
    });
  }

  async get(id: number): Promise<DownloadRecord | undefined> {
    const rows: Row[] = await this.#db`SELECT * FROM dlm_downloads WHERE id = ${id}`;
    return rows[0] === undefined ? undefined : toRecord(rows[0]);
  }

  async list(filter: RecordFilter = {}): Promise<DownloadRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.states !== undefined && filter.states.length > 0) {
      params.push([...filter.states]);
      where.push(`state = ANY($${params.length}::text[])`);
    }
    if (filter.labels !== undefined && filter.labels.length > 0) {
      params.push([...filter.labels]);
      where.push(
        `EXISTS (SELECT 1 FROM jsonb_array_elements_text(labels::jsonb) AS l(v) WHERE l.v = ANY($${params.length}::text[]))`,
      );
    }
    const clause = where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`;
    params.push(filter.limit ?? null, filter.offset ?? 0);
    // Only placeholders are interpolated: every value is bound.
    const rows: Row[] = await this.#db.unsafe(
      `SELECT * FROM dlm_downloads ${clause} ORDER BY ${QUEUE_ORDER_SQL}
        LIMIT $${params.length - 1}::bigint OFFSET $${params.length}::bigint`,
      params,
    );
    return rows.map(toRecord);
  }

  async update(
    id: number,
    patch: RecordPatch,
    now: number,
    owner?: string,
  ): Promise<StoredEvent | undefined> {
    return this.#db.begin(async (tx) => {
      const found: Row[] = await tx`SELECT * FROM dlm_downloads WHERE id = ${id} FOR UPDATE`;
      if (found[0] === undefined) return undefined;
      const before = toRecord(found[0]);
      if (owner !== undefined && before.node !== owner) return undefined;
      const record = withLeaseRule({ ...before, ...patch, updatedAt: now });
      const leased = record.node !== undefined;
      await tx`UPDATE dlm_downloads SET ${tx(recordColumns(record))},
          lease_until = CASE WHEN ${leased}::boolean THEN lease_until END,
          requested = CASE WHEN ${leased}::boolean THEN requested END
        WHERE id = ${id}`;
      return appendEvent(tx, "changed", record, now);
    });
  }

  async move(id: number, position: number, now: number): Promise<StoredEvent[]> {
    return this.#db.begin(async (tx) => {
      // Moves and adds of every node take turns on positions, so none computes one another is taking.
      await tx`SELECT pg_advisory_xact_lock(${POSITION_LOCK})`;
      const found: Row[] = await tx`SELECT position FROM dlm_downloads WHERE id = ${id}`;
      if (found[0] === undefined) return [];
      const from = Number(found[0]["position"]);
      const last: Row[] = await tx`SELECT MAX(position) AS p FROM dlm_downloads`;
      const to = Math.min(position, Number(mustRow(last)["p"]));
      if (to === from) return [];
      const moved: Row[] = await tx`UPDATE dlm_downloads SET position = ${to}, updated_at = ${now}
        WHERE id = ${id} RETURNING *`;
      const shifted: Row[] =
        to < from
          ? await tx`UPDATE dlm_downloads SET position = position + 1, updated_at = ${now}
              WHERE id != ${id} AND position >= ${to} AND position < ${from} RETURNING *`
          : await tx`UPDATE dlm_downloads SET position = position - 1, updated_at = ${now}
              WHERE id != ${id} AND position > ${from} AND position <= ${to} RETURNING *`;
      const events: StoredEvent[] = [];
      for (const row of [...moved, ...shifted])
        events.push(await appendEvent(tx, "changed", toRecord(row), now));
      return events;
    });
  }

  async remove(id: number, now: number): Promise<StoredEvent | undefined> {
    return this.#db.begin(async (tx) => {
      const found: Row[] = await tx`DELETE FROM dlm_downloads WHERE id = ${id} RETURNING *`;
      if (found[0] === undefined) return undefined;
      return appendEvent(tx, "removed", toRecord(found[0]), now);
    });
  }

  async eventsAfter(seq: number, limit: number): Promise<StoredEvent[]> {
    const rows: Row[] = await this
      .#db`SELECT * FROM dlm_events WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`;
    return rows.map(toEvent);
  }

  async lastSeq(): Promise<number> {
    const rows: Row[] = await this.#db`SELECT last FROM dlm_event_counter`;
    return Number(mustRow(rows)["last"]);
  }

  async firstSeq(): Promise<number> {
    const rows: Row[] = await this.#db`SELECT (SELECT MIN(seq) FROM dlm_events) AS first,
      (SELECT last FROM dlm_event_counter) AS last`;
    const row = mustRow(rows);
    return row["first"] === null ? Number(row["last"]) + 1 : Number(row["first"]);
  }

  async pruneEvents(keep: number, maxBytes?: number): Promise<void> {
    await this.#db`DELETE FROM dlm_events WHERE seq <= (SELECT last FROM dlm_event_counter) - ${keep}`;
    if (maxBytes === undefined) return;
    // The newest event past which (newest first) the payloads exceed maxBytes goes, with all older ones.
    await this.#db`DELETE FROM dlm_events WHERE seq <= COALESCE((SELECT seq FROM (
        SELECT seq, SUM(octet_length(payload)) OVER (ORDER BY seq DESC) AS total FROM dlm_events) AS t
      WHERE total > ${maxBytes} ORDER BY seq DESC LIMIT 1), 0)`;
  }

  async countByState(): Promise<Map<QueueState, number>> {
    const rows: Row[] = await this.#db`SELECT state, COUNT(*) AS n FROM dlm_downloads GROUP BY state`;
    return new Map(rows.map((row) => [asState(row["state"]), Number(row["n"])]));
  }

  async claim(ids: readonly number[], node: string, leaseMs: number, now: number): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    return this.#db.begin(async (tx) => {
      // SKIP LOCKED: a row another node is claiming right now is left to it, not waited for. The order is
      // QUEUE_ORDER_SQL, written out: a tagged template binds what it interpolates.
      const free: Row[] = await tx`SELECT id FROM dlm_downloads
        WHERE id = ANY(${[...ids]}::bigint[])
          AND (state = 'queued' OR (state = 'retrying' AND COALESCE(next_try_at, 0) <= ${now}))
        ORDER BY priority DESC, position, id
        FOR UPDATE SKIP LOCKED`;
      if (free.length === 0) return [];
      const claimed: Row[] = await tx`UPDATE dlm_downloads SET state = 'running', node = ${node},
          lease_until = ${leaseEnd(tx, leaseMs)}, requested = NULL, failure = NULL, next_try_at = NULL,
          updated_at = ${now}
        WHERE id = ANY(${free.map((row) => Number(row["id"]))}::bigint[])
        RETURNING *`;
      const events: StoredEvent[] = [];
      for (const row of claimed) events.push(await appendEvent(tx, "changed", toRecord(row), now));
      return events;
    });
  }

  async heartbeat(
    node: string,
    progress: ReadonlyMap<number, number>,
    leaseMs: number,
    _now: number,
  ): Promise<Heartbeat> {
    const ids = [...progress.keys()];
    const bytes = [...progress.values()];
    if (ids.length === 0) return { owned: new Set(), pauseRequested: new Set() };
    // One statement per node and beat, whatever the number of downloads it runs.
    const rows: Row[] = await this
      .#db`UPDATE dlm_downloads AS d SET lease_until = ${leaseEnd(this.#db, leaseMs)},
        bytes_downloaded = p.bytes
      FROM unnest(${ids}::bigint[], ${bytes}::bigint[]) AS p(id, bytes)
      WHERE d.id = p.id AND d.node = ${node} AND d.state IN ('running', 'verifying')
      RETURNING d.id, d.requested`;
    return heartbeatOf(rows);
  }

  async reclaimExpired(now: number): Promise<StoredEvent[]> {
    return this.#db.begin(async (tx) => {
      const expired: Row[] = await tx`SELECT id FROM dlm_downloads
        WHERE state IN ('running', 'verifying') AND (lease_until IS NULL OR lease_until < now())
        FOR UPDATE SKIP LOCKED`;
      if (expired.length === 0) return [];
      // A pause asked of the dead node still holds.
      const rows: Row[] = await tx`UPDATE dlm_downloads
        SET state = CASE WHEN requested = 'pause' THEN 'paused' ELSE 'queued' END, node = NULL,
          lease_until = NULL, requested = NULL, updated_at = ${now},
          failure = json_build_object('kind', 'lease_expired', 'retryable', true,
            'message', 'node ' || COALESCE(node, '?') || ' stopped renewing its lease')::text
        WHERE id = ANY(${expired.map((row) => Number(row["id"]))}::bigint[])
        RETURNING *`;
      const events: StoredEvent[] = [];
      for (const row of rows) events.push(await appendEvent(tx, "changed", toRecord(row), now));
      return events;
    });
  }

  async claimNode(
    claim: NodeClaim,
    leaseMs: number,
    _now: number,
    gone: (holder: NodeClaim) => boolean,
  ): Promise<NodeClaim | undefined> {
    return this.#db.begin(async (tx) => {
      // Two processes claiming one new name at once take turns (there is no row to lock yet).
      await tx`SELECT pg_advisory_xact_lock(${NODE_LOCK})`;
      const rows: Row[] =
        await tx`SELECT *, until >= now() AS live FROM dlm_nodes WHERE name = ${claim.node}`;
      const held = rows[0] === undefined ? undefined : nodeClaimOf(rows[0]);
      if (held !== undefined && held.token !== claim.token && rows[0]?.["live"] === true && !gone(held)) {
        return held;
      }
      await tx`INSERT INTO dlm_nodes (name, token, host, pid, until)
        VALUES (${claim.node}, ${claim.token}, ${claim.host}, ${claim.pid}, ${leaseEnd(tx, leaseMs)})
        ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, host = EXCLUDED.host, pid = EXCLUDED.pid,
          until = EXCLUDED.until`;
      return undefined;
    });
  }

  async renewNode(claim: NodeClaim, leaseMs: number): Promise<boolean> {
    const rows: Row[] = await this.#db`UPDATE dlm_nodes SET until = ${leaseEnd(this.#db, leaseMs)}
      WHERE name = ${claim.node} AND token = ${claim.token} RETURNING name`;
    return rows.length > 0;
  }

  async releaseNode(claim: NodeClaim): Promise<void> {
    await this.#db`DELETE FROM dlm_nodes WHERE name = ${claim.node} AND token = ${claim.token}`;
  }

  async requestPause(id: number): Promise<boolean> {
    const rows: Row[] = await this.#db`WITH asked AS (
        UPDATE dlm_downloads SET requested = 'pause'
        WHERE id = ${id} AND state IN ('running', 'verifying') AND node IS NOT NULL
        RETURNING node)
      SELECT pg_notify('dlm_requests', node) FROM asked`;
    return rows.length > 0;
  }

  async onChange(wake: (what: "events" | "requests") => void): Promise<() => Promise<void>> {
    // The third argument runs after every (re)subscription: notifications sent while Bun reconnected
    // are lost, so the manager catches up at once.
    const onEvents = () => wake("events");
    const onRequests = () => wake("requests");
    const events = await this.#db.listen("dlm_events", onEvents, onEvents);
    const requests = await this.#db.listen("dlm_requests", onRequests, onRequests);
    return async () => {
      await events.unlisten();
      await requests.unlisten();
    };
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

async function migrate(db: SQL): Promise<void> {
  await db.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS dlm_schema_version (version INTEGER NOT NULL)`;
    const rows: Row[] = await tx`SELECT version FROM dlm_schema_version`;
    const current = Number(rows[0]?.["version"] ?? 0);
    if (current > PG_SCHEMA_VERSION) {
      throw new Error(`database schema version ${current} is newer than this dlm's (${PG_SCHEMA_VERSION})`);
    }
    for (let version = current + 1; version <= PG_SCHEMA_VERSION; version++) {
      for (const statement of MIGRATIONS[version - 1] ?? []) await tx.unsafe(statement);
    }
    await tx`DELETE FROM dlm_schema_version`;
    await tx`INSERT INTO dlm_schema_version (version) VALUES (${Math.max(current, PG_SCHEMA_VERSION)})`;
  });
}

/**
 * Stores one event as the transaction's last writes: the counter's row lock, taken here, is held until
 * commit, so no other event can commit with a higher seq before this one (see MIGRATIONS).
 */
async function appendEvent(
  tx: SQL,
  kind: EventKind,
  record: DownloadRecord,
  now: number,
): Promise<StoredEvent> {
  const rows: Row[] = await tx`WITH next AS (UPDATE dlm_event_counter SET last = last + 1 RETURNING last)
    INSERT INTO dlm_events (seq, download_id, kind, payload, at)
    SELECT last, ${record.id}, ${kind}, ${eventPayload(record)}, ${now} FROM next
    RETURNING seq`;
  return { seq: Number(mustRow(rows)["seq"]), downloadId: record.id, kind, record };
}
