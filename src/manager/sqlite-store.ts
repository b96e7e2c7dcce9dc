import { chmod, writeFile } from "node:fs/promises";
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
 * Schema migrations, in order; migration N (1-based) brings schema_version from N-1 to N. Never edit a
 * shipped one: add the next. AUTOINCREMENT keeps ids and sequence numbers from ever being reused.
 */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE downloads (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      request_id TEXT UNIQUE,
      url TEXT NOT NULL,
      output TEXT,
      directory TEXT NOT NULL DEFAULT '',
      path TEXT,
      headers TEXT NOT NULL DEFAULT '[]',
      checksum TEXT,
      connections INTEGER NOT NULL DEFAULT 0,
      speed_limit INTEGER NOT NULL DEFAULT 0,
      priority INTEGER NOT NULL DEFAULT 0,
      position INTEGER NOT NULL,
      labels TEXT NOT NULL DEFAULT '[]',
      state TEXT NOT NULL,
      failure TEXT,
      next_try_at INTEGER,
      attempts INTEGER NOT NULL DEFAULT 0,
      bytes_downloaded INTEGER NOT NULL DEFAULT 0,
      total_bytes INTEGER,
      sha256 TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`,
    "CREATE INDEX downloads_order ON downloads (priority DESC, position, id)",
    `CREATE TABLE events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      download_id INTEGER NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      at INTEGER NOT NULL
    )`,
  ],
  [
    // Leases (see Store): which node runs a download, until when, and a pause asked of it.
    "ALTER TABLE downloads ADD COLUMN node TEXT",
    "ALTER TABLE downloads ADD COLUMN lease_until INTEGER",
    "ALTER TABLE downloads ADD COLUMN requested TEXT",
  ],
  [
    // Events stored before credential headers became write-only held their values: drop every header.
    "UPDATE events SET payload = json_set(payload, '$.headers', json('[]'))",
  ],
  [
    // Which process holds each node name (see Store.claimNode).
    `CREATE TABLE nodes (
      name TEXT PRIMARY KEY,
      token TEXT NOT NULL,
      host TEXT NOT NULL,
      pid INTEGER NOT NULL,
      until INTEGER NOT NULL
    )`,
  ],
  [
    // Mirrors of the file (JSON array of URLs).
    "ALTER TABLE downloads ADD COLUMN mirrors TEXT NOT NULL DEFAULT '[]'",
  ],
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The Store on SQLite through Bun's built-in SQL client. One connection; every call runs in turn (a
 * promise chain), so a transaction never interleaves with another call. WAL with synchronous=NORMAL: a
 * commit survives the process being killed (kill -9), which is the failure the manager must ride out.
 */
export class SqliteStore implements Store {
  /** One process owns the file (serve.json guards the home), so nobody else changes the queue. */
  readonly shared = false;
  readonly #db: SQL;
  #turn: Promise<unknown> = Promise.resolve();

  private constructor(db: SQL) {
    this.#db = db;
  }

  /** Opens (creating if needed) the database at the absolute `path` and migrates it to SCHEMA_VERSION. */
  static async open(path: string): Promise<SqliteStore> {
    // Owner-only: rows keep credential headers. Created before SQLite opens it, which gives the -wal and
    // -shm files the database's mode; files left by an older dlm are tightened after the open.
    await writeFile(path, "", { flag: "a", mode: 0o600 });
    const db = new SQL(`sqlite://${path}`);
    await db`PRAGMA journal_mode = WAL`;
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      await chmod(file, 0o600).catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== "ENOENT") throw error;
      });
    }
    // A removed download's row (its headers) is overwritten, not left in free pages.
    await db`PRAGMA secure_delete = ON`;
    await db`PRAGMA synchronous = NORMAL`;
    await db`PRAGMA busy_timeout = 5000`;
    const store = new SqliteStore(db);
    await store.#migrate();
    return store;
  }

  async #migrate(): Promise<void> {
    const db = this.#db;
    await db`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`;
    const rows: Row[] = await db`SELECT version FROM schema_version`;
    const current = Number(rows[0]?.["version"] ?? 0);
    if (current > SCHEMA_VERSION) {
      throw new Error(`database schema version ${current} is newer than this dlm's (${SCHEMA_VERSION})`);
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await db.begin(async (tx) => {
        for (const statement of MIGRATIONS[version - 1] ?? []) await tx.unsafe(statement);
        await tx`DELETE FROM schema_version`;
        await tx`INSERT INTO schema_version (version) VALUES (${version})`;
      });
    }
  }

  /** Runs `task` after every call before it has settled. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(task, task);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  add(input: NewDownload, now: number): Promise<AddOutcome> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        if (input.requestId !== undefined) {
          const found: Row[] = await tx`SELECT * FROM downloads WHERE request_id = ${input.requestId}`;
          if (found[0] !== undefined) return { record: toRecord(found[0]), created: false, event: undefined };
        }
        const last: Row[] = await tx`SELECT COALESCE(MAX(position), 0) AS p FROM downloads`;
        const position = Number(last[0]?.["p"] ?? 0) + 1;
        const inserted: Row[] = await tx`INSERT INTO downloads (
            request_id, url, output, directory, headers, mirrors, checksum, connections, speed_limit, priority,
            position, labels, state, created_at, updated_at)
          VALUES (${input.requestId ?? null}, ${input.url}, ${input.output ?? null}, ${input.directory},
            ${JSON.stringify(input.headers)}, ${JSON.stringify(input.mirrors)}, ${input.checksum ?? null}, ${input.connections},
            ${input.speedLimit}, ${input.priority}, ${position}, ${JSON.stringify(input.labels)},
            ${input.state}, ${now}, ${now})
          RETURNING *`;
        const record = toRecord(mustRow(inserted));
        const event = await appendEvent(tx, "added", record, now);
        return { record, created: true, event };
      }),
    );
  }

  get(id: number): Promise<DownloadRecord | undefined> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`SELECT * FROM downloads WHERE id = ${id}`;
      return rows[0] === undefined ? undefined : toRecord(rows[0]);
    });
  }

  list(filter: RecordFilter = {}): Promise<DownloadRecord[]> {
    return this.#serial(async () => {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.states !== undefined && filter.states.length > 0) {
        where.push(`state IN (${filter.states.map(() => "?").join(", ")})`);
        params.push(...filter.states);
      }
      if (filter.labels !== undefined && filter.labels.length > 0) {
        where.push(
          `EXISTS (SELECT 1 FROM json_each(labels) WHERE value IN (${filter.labels.map(() => "?").join(", ")}))`,
        );
        params.push(...filter.labels);
      }
      const clause = where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`;
      params.push(filter.limit ?? -1, filter.offset ?? 0);
      // Only placeholders are interpolated: every value is bound.
      const rows: Row[] = await this.#db.unsafe(
        `SELECT * FROM downloads ${clause} ORDER BY ${QUEUE_ORDER_SQL} LIMIT ? OFFSET ?`,
        params,
      );
      return rows.map(toRecord);
    });
  }

  update(id: number, patch: RecordPatch, now: number, owner?: string): Promise<StoredEvent | undefined> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`SELECT * FROM downloads WHERE id = ${id}`;
        if (found[0] === undefined) return undefined;
        const before = toRecord(found[0]);
        if (owner !== undefined && before.node !== owner) return undefined;
        const record = withLeaseRule({ ...before, ...patch, updatedAt: now });
        const leased = record.node !== undefined;
        await tx`UPDATE downloads SET ${tx(recordColumns(record))},
            lease_until = CASE WHEN ${leased} THEN lease_until END,
            requested = CASE WHEN ${leased} THEN requested END
          WHERE id = ${id}`;
        return appendEvent(tx, "changed", record, now);
      }),
    );
  }

  move(id: number, position: number, now: number): Promise<StoredEvent[]> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`SELECT position FROM downloads WHERE id = ${id}`;
        if (found[0] === undefined) return [];
        const from = Number(found[0]["position"]);
        const last: Row[] = await tx`SELECT MAX(position) AS p FROM downloads`;
        const to = Math.min(position, Number(mustRow(last)["p"]));
        if (to === from) return [];
        const moved: Row[] = await tx`UPDATE downloads SET position = ${to}, updated_at = ${now}
          WHERE id = ${id} RETURNING *`;
        const shifted: Row[] =
          to < from
            ? await tx`UPDATE downloads SET position = position + 1, updated_at = ${now}
                WHERE id != ${id} AND position >= ${to} AND position < ${from} RETURNING *`
            : await tx`UPDATE downloads SET position = position - 1, updated_at = ${now}
                WHERE id != ${id} AND position > ${from} AND position <= ${to} RETURNING *`;
        const events: StoredEvent[] = [];
        for (const row of [...moved, ...shifted])
          events.push(await appendEvent(tx, "changed", toRecord(row), now));
        return events;
      }),
    );
  }

  claim(ids: readonly number[], node: string, leaseMs: number, now: number): Promise<StoredEvent[]> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const events: StoredEvent[] = [];
        for (const id of ids) {
          const rows: Row[] = await tx`UPDATE downloads SET state = 'running', node = ${node},
              lease_until = ${now + leaseMs}, requested = NULL, failure = NULL, next_try_at = NULL,
              updated_at = ${now}
            WHERE id = ${id} AND (state = 'queued' OR (state = 'retrying' AND COALESCE(next_try_at, 0) <= ${now}))
            RETURNING *`;
          if (rows[0] !== undefined) events.push(await appendEvent(tx, "changed", toRecord(rows[0]), now));
        }
        return events;
      }),
    );
  }

  heartbeat(
    node: string,
    progress: ReadonlyMap<number, number>,
    leaseMs: number,
    now: number,
  ): Promise<Heartbeat> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const rows: Row[] = [];
        for (const [id, bytes] of progress) {
          const held: Row[] = await tx`UPDATE downloads SET bytes_downloaded = ${bytes},
              lease_until = ${now + leaseMs}
            WHERE id = ${id} AND node = ${node} AND state IN ('running', 'verifying') RETURNING id, requested`;
          rows.push(...held);
        }
        return heartbeatOf(rows);
      }),
    );
  }

  reclaimExpired(now: number): Promise<StoredEvent[]> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const rows: Row[] = await tx`UPDATE downloads
          SET state = CASE WHEN requested = 'pause' THEN 'paused' ELSE 'queued' END, node = NULL,
            lease_until = NULL, requested = NULL, updated_at = ${now},
            failure = json_object('kind', 'lease_expired', 'retryable', json('true'),
              'message', 'node ' || COALESCE(node, '?') || ' stopped renewing its lease')
          WHERE state IN ('running', 'verifying') AND COALESCE(lease_until, 0) < ${now} RETURNING *`;
        const events: StoredEvent[] = [];
        for (const row of rows) events.push(await appendEvent(tx, "changed", toRecord(row), now));
        return events;
      }),
    );
  }

  claimNode(
    claim: NodeClaim,
    leaseMs: number,
    now: number,
    gone: (holder: NodeClaim) => boolean,
  ): Promise<NodeClaim | undefined> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const rows: Row[] = await tx`SELECT * FROM nodes WHERE name = ${claim.node}`;
        const held = rows[0] === undefined ? undefined : nodeClaimOf(rows[0]);
        if (
          held !== undefined &&
          held.token !== claim.token &&
          Number(rows[0]?.["until"]) >= now &&
          !gone(held)
        ) {
          return held;
        }
        await tx`INSERT OR REPLACE INTO nodes (name, token, host, pid, until)
          VALUES (${claim.node}, ${claim.token}, ${claim.host}, ${claim.pid}, ${now + leaseMs})`;
        return undefined;
      }),
    );
  }

  renewNode(claim: NodeClaim, leaseMs: number, now: number): Promise<boolean> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`UPDATE nodes SET until = ${now + leaseMs}
        WHERE name = ${claim.node} AND token = ${claim.token} RETURNING name`;
      return rows.length > 0;
    });
  }

  releaseNode(claim: NodeClaim): Promise<void> {
    return this.#serial(async () => {
      await this.#db`DELETE FROM nodes WHERE name = ${claim.node} AND token = ${claim.token}`;
    });
  }

  requestPause(id: number): Promise<boolean> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`UPDATE downloads SET requested = 'pause'
        WHERE id = ${id} AND state IN ('running', 'verifying') AND node IS NOT NULL RETURNING id`;
      return rows.length > 0;
    });
  }

  async onChange(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  remove(id: number, now: number): Promise<StoredEvent | undefined> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`SELECT * FROM downloads WHERE id = ${id}`;
        if (found[0] === undefined) return undefined;
        await tx`DELETE FROM downloads WHERE id = ${id}`;
        return appendEvent(tx, "removed", toRecord(found[0]), now);
      }),
    );
  }

  eventsAfter(seq: number, limit: number): Promise<StoredEvent[]> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`SELECT * FROM events WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`;
      return rows.map(toEvent);
    });
  }

  lastSeq(): Promise<number> {
    return this.#serial(() => this.#highWater());
  }

  /** The largest seq ever given (AUTOINCREMENT's record), which pruning cannot lower. */
  async #highWater(): Promise<number> {
    const rows: Row[] = await this.#db`SELECT seq FROM sqlite_sequence WHERE name = 'events'`;
    return Number(rows[0]?.["seq"] ?? 0);
  }

  firstSeq(): Promise<number> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`SELECT MIN(seq) AS first FROM events`;
      const first = rows[0]?.["first"];
      // With every event pruned, the next one is the first a watcher could get.
      return first === null || first === undefined ? (await this.#highWater()) + 1 : Number(first);
    });
  }

  pruneEvents(keep: number, maxBytes?: number): Promise<void> {
    return this.#serial(async () => {
      await this.#db`DELETE FROM events WHERE seq <= ${(await this.#highWater()) - keep}`;
      if (maxBytes === undefined) return;
      // The newest event past which (newest first) the payloads exceed maxBytes goes, with all older ones.
      await this.#db`DELETE FROM events WHERE seq <= COALESCE((SELECT seq FROM (
          SELECT seq, SUM(length(CAST(payload AS BLOB))) OVER (ORDER BY seq DESC) AS total FROM events)
        WHERE total > ${maxBytes} ORDER BY seq DESC LIMIT 1), 0)`;
    });
  }

  countByState(): Promise<Map<QueueState, number>> {
    return this.#serial(async () => {
      const rows: Row[] = await this.#db`SELECT state, COUNT(*) AS n FROM downloads GROUP BY state`;
      return new Map(rows.map((row) => [asState(row["state"]), Number(row["n"])]));
    });
  }

  close(): Promise<void> {
    return this.#serial(() => this.#db.close());
  }
}

async function appendEvent(
  tx: SQL,
  kind: EventKind,
  record: DownloadRecord,
  now: number,
): Promise<StoredEvent> {
  const rows: Row[] = await tx`INSERT INTO events (download_id, kind, payload, at)
    VALUES (${record.id}, ${kind}, ${eventPayload(record)}, ${now}) RETURNING seq`;
  return { seq: Number(mustRow(rows)["seq"]), downloadId: record.id, kind, record };
}
