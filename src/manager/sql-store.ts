// Over 300 lines: one store, the whole Store contract on SQL; every method is a query or two, and splitting
// them would separate the statements that depend on one another's locks and columns.
import type { SQL } from "bun";
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
import type { SqlDialect, TableRole } from "./sql-dialect.ts";
import { postgresDialect } from "./sql-dialect-postgres.ts";
import { sqliteDialect } from "./sql-dialect-sqlite.ts";
import type { AddOutcome, Heartbeat, RecordFilter, Store } from "./store.ts";
import {
  asState,
  eventColumns,
  freshRecord,
  heartbeatOf,
  mustRow,
  nodeClaimOf,
  type Row,
  recordColumns,
  toEvent,
  toRecord,
  withLeaseRule,
} from "./store-rows.ts";

/** LIMIT for "no limit": both databases take a number, and none holds more rows than this. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The Store on SQL through Bun's SQL client, written once for SQLite and PostgreSQL; what differs between
 * them is the dialect's (sql-dialect.ts). Leases and node claims are on the database's clock (the `now`
 * arguments time rows and retries only). Every change writes its row and its event in one transaction.
 */
export class SqlStore implements Store {
  readonly shared: boolean;
  readonly #db: SQL;
  readonly #dialect: SqlDialect;
  #turn: Promise<unknown> = Promise.resolve();

  protected constructor(db: SQL, dialect: SqlDialect) {
    this.#db = db;
    this.#dialect = dialect;
    this.shared = dialect.shared;
  }

  /** Migrates the schema to the dialect's latest version; closes the database and throws on failure. */
  protected async migrated(): Promise<this> {
    try {
      await this.#migrate();
      return this;
    } catch (error) {
      await this.#db.close().catch(() => undefined);
      throw error;
    }
  }

  async #migrate(): Promise<void> {
    const d = this.#dialect;
    const latest = d.migrations.length;
    await this.#db.begin(async (tx) => {
      await d.lock(tx, "migrations");
      // Unquoted (a constant), as the schema has always written it.
      await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${d.tables.version} (version INTEGER NOT NULL)`);
      const rows: Row[] = await tx`SELECT version FROM ${tx(d.tables.version)}`;
      const current = Number(rows[0]?.["version"] ?? 0);
      if (current > latest) {
        throw new Error(`database schema version ${current} is newer than this dlm's (${latest})`);
      }
      if (current === latest && rows.length === 1) return;
      for (let version = current + 1; version <= latest; version++) {
        for (const statement of d.migrations[version - 1] ?? []) await tx.unsafe(statement);
      }
      await tx`DELETE FROM ${tx(d.tables.version)}`;
      await tx`INSERT INTO ${tx(d.tables.version)} (version) VALUES (${latest})`;
    });
  }

  /** Runs `task`: on one connection after every call before it has settled, so transactions never mix. */
  #run<T>(task: () => Promise<T>): Promise<T> {
    if (!this.#dialect.oneConnection) return task();
    const result = this.#turn.then(task, task);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  /** A table's name as an identifier of `sql`. */
  #t(sql: SQL, table: TableRole) {
    return sql(this.#dialect.tables[table]);
  }

  /** Stores an event of `record` in `tx`. */
  async #event(tx: SQL, kind: EventKind, record: DownloadRecord, now: number): Promise<StoredEvent> {
    const seq = await this.#dialect.appendEvent(tx, eventColumns(kind, record, now));
    return { seq, downloadId: record.id, kind, record };
  }

  /** Writes `record` over its row; a record that is not leased clears the lease and any pause asked. */
  async #write(tx: SQL, record: DownloadRecord): Promise<void> {
    const lease = record.node === undefined ? { lease_until: null, requested: null } : {};
    await tx`UPDATE ${this.#t(tx, "downloads")} SET ${tx({ ...recordColumns(record), ...lease })}
      WHERE id = ${record.id}`;
  }

  add(input: NewDownload, now: number): Promise<AddOutcome> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const existing = async (): Promise<AddOutcome | undefined> => {
          if (input.requestId === undefined) return undefined;
          const found: Row[] = await tx`SELECT * FROM ${this.#t(tx, "downloads")}
            WHERE request_id = ${input.requestId}`;
          return found[0] === undefined
            ? undefined
            : { record: toRecord(found[0]), created: false, event: undefined };
        };
        const before = await existing();
        if (before !== undefined) return before;
        // Adds and moves (of every node) take turns on positions, so none computes one another is taking.
        await this.#dialect.lock(tx, "positions");
        const last: Row[] = await tx`SELECT COALESCE(MAX(position), 0) AS p FROM ${this.#t(tx, "downloads")}`;
        const fresh = freshRecord(input, Number(mustRow(last)["p"]) + 1, now);
        const inserted: Row[] = await tx`INSERT INTO ${this.#t(tx, "downloads")} ${tx(recordColumns(fresh))}
          ON CONFLICT (request_id) DO NOTHING RETURNING *`;
        // Another node added the same request_id at the same moment: that one is the download.
        if (inserted[0] === undefined)
          return (await existing()) ?? Promise.reject(new Error("add: lost row"));
        const record = toRecord(inserted[0]);
        return { record, created: true, event: await this.#event(tx, "added", record, now) };
      }),
    );
  }

  get(id: number): Promise<DownloadRecord | undefined> {
    return this.#run(async () => {
      const rows: Row[] = await this.#db`SELECT * FROM ${this.#t(this.#db, "downloads")} WHERE id = ${id}`;
      return rows[0] === undefined ? undefined : toRecord(rows[0]);
    });
  }

  list(filter: RecordFilter = {}): Promise<DownloadRecord[]> {
    return this.#run(async () => {
      const db = this.#db;
      const states = filter.states ?? [];
      const labels = filter.labels ?? [];
      const rows: Row[] = await db`SELECT * FROM ${this.#t(db, "downloads")} WHERE 1 = 1
        ${states.length > 0 ? db`AND state IN ${db([...states])}` : db``}
        ${
          labels.length > 0
            ? db`AND EXISTS (SELECT 1 FROM ${this.#dialect.labelValues(db)} WHERE value IN ${db([...labels])})`
            : db``
        }
        ORDER BY ${db.unsafe(QUEUE_ORDER_SQL)} LIMIT ${filter.limit ?? NO_LIMIT} OFFSET ${filter.offset ?? 0}`;
      return rows.map(toRecord);
    });
  }

  update(id: number, patch: RecordPatch, now: number, owner?: string): Promise<StoredEvent | undefined> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`SELECT * FROM ${this.#t(tx, "downloads")} WHERE id = ${id}
          ${this.#dialect.lockRows(tx)}`;
        if (found[0] === undefined) return undefined;
        const before = toRecord(found[0]);
        if (owner !== undefined && before.node !== owner) return undefined;
        const record = withLeaseRule({ ...before, ...patch, updatedAt: now });
        await this.#write(tx, record);
        return this.#event(tx, "changed", record, now);
      }),
    );
  }

  move(id: number, position: number, now: number): Promise<StoredEvent[]> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const downloads = this.#t(tx, "downloads");
        await this.#dialect.lock(tx, "positions");
        const found: Row[] = await tx`SELECT position FROM ${downloads} WHERE id = ${id}`;
        if (found[0] === undefined) return [];
        const from = Number(found[0]["position"]);
        const last: Row[] = await tx`SELECT MAX(position) AS p FROM ${downloads}`;
        const to = Math.min(position, Number(mustRow(last)["p"]));
        if (to === from) return [];
        const moved: Row[] = await tx`UPDATE ${downloads} SET position = ${to}, updated_at = ${now}
          WHERE id = ${id} RETURNING *`;
        const shifted: Row[] =
          to < from
            ? await tx`UPDATE ${downloads} SET position = position + 1, updated_at = ${now}
                WHERE id != ${id} AND position >= ${to} AND position < ${from} RETURNING *`
            : await tx`UPDATE ${downloads} SET position = position - 1, updated_at = ${now}
                WHERE id != ${id} AND position > ${from} AND position <= ${to} RETURNING *`;
        const events: StoredEvent[] = [];
        for (const row of [...moved, ...shifted])
          events.push(await this.#event(tx, "changed", toRecord(row), now));
        return events;
      }),
    );
  }

  remove(id: number, now: number): Promise<StoredEvent | undefined> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`DELETE FROM ${this.#t(tx, "downloads")} WHERE id = ${id} RETURNING *`;
        if (found[0] === undefined) return undefined;
        return this.#event(tx, "removed", toRecord(found[0]), now);
      }),
    );
  }

  eventsAfter(seq: number, limit: number): Promise<StoredEvent[]> {
    return this.#run(async () => {
      const rows: Row[] = await this.#db`SELECT * FROM ${this.#t(this.#db, "events")}
        WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`;
      return rows.map(toEvent);
    });
  }

  lastSeq(): Promise<number> {
    return this.#run(async () => {
      const rows: Row[] = await this.#db`SELECT COALESCE(${this.#dialect.lastSeq(this.#db)}, 0) AS last`;
      return Number(mustRow(rows)["last"]);
    });
  }

  firstSeq(): Promise<number> {
    return this.#run(async () => {
      const db = this.#db;
      const rows: Row[] = await db`SELECT (SELECT MIN(seq) FROM ${this.#t(db, "events")}) AS first,
        COALESCE(${this.#dialect.lastSeq(db)}, 0) AS last`;
      const row = mustRow(rows);
      // With every event pruned, the next one is the first a watcher could get.
      return row["first"] === null ? Number(row["last"]) + 1 : Number(row["first"]);
    });
  }

  pruneEvents(keep: number, maxBytes?: number): Promise<void> {
    return this.#run(async () => {
      const db = this.#db;
      const events = this.#t(db, "events");
      await db`DELETE FROM ${events} WHERE seq <= COALESCE(${this.#dialect.lastSeq(db)}, 0) - ${keep}`;
      if (maxBytes === undefined) return;
      // The newest event past which (newest first) the payloads exceed maxBytes goes, with all older ones.
      await db`DELETE FROM ${events} WHERE seq <= COALESCE((SELECT seq FROM (
          SELECT seq, SUM(${this.#dialect.payloadBytes(db)}) OVER (ORDER BY seq DESC) AS total FROM ${events}) AS t
        WHERE total > ${maxBytes} ORDER BY seq DESC LIMIT 1), 0)`;
    });
  }

  countByState(): Promise<Map<QueueState, number>> {
    return this.#run(async () => {
      const rows: Row[] = await this.#db`SELECT state, COUNT(*) AS n FROM ${this.#t(this.#db, "downloads")}
        GROUP BY state`;
      return new Map(rows.map((row) => [asState(row["state"]), Number(row["n"])]));
    });
  }

  claim(ids: readonly number[], node: string, leaseMs: number, now: number): Promise<StoredEvent[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const downloads = this.#t(tx, "downloads");
        // A row another node is claiming right now is left to it, not waited for.
        const free: Row[] = await tx`SELECT id FROM ${downloads}
          WHERE id IN ${tx([...ids])}
            AND (state = 'queued' OR (state = 'retrying' AND COALESCE(next_try_at, 0) <= ${now}))
          ORDER BY ${tx.unsafe(QUEUE_ORDER_SQL)} ${this.#dialect.lockFreeRows(tx)}`;
        if (free.length === 0) return [];
        const claimed: Row[] = await tx`UPDATE ${downloads} SET state = 'running', node = ${node},
            lease_until = ${this.#dialect.leaseEnd(tx, leaseMs)}, requested = NULL, failure = NULL,
            next_try_at = NULL, updated_at = ${now}
          WHERE id IN ${tx(free.map((row) => Number(row["id"])))}
          RETURNING *`;
        // Events in the order the ids were given (once each).
        const records = new Map(claimed.map((row) => [Number(row["id"]), toRecord(row)]));
        const events: StoredEvent[] = [];
        for (const id of new Set(ids)) {
          const record = records.get(id);
          if (record !== undefined) events.push(await this.#event(tx, "changed", record, now));
        }
        return events;
      }),
    );
  }

  heartbeat(
    node: string,
    progress: ReadonlyMap<number, number>,
    leaseMs: number,
    _now: number,
  ): Promise<Heartbeat> {
    if (progress.size === 0) return Promise.resolve({ owned: new Set(), pauseRequested: new Set() });
    return this.#run(async () => {
      const db = this.#db;
      // One statement per node and beat, whatever the number of downloads it runs.
      let bytes = db``;
      for (const [id, done] of progress) bytes = db`${bytes} WHEN ${id} THEN ${done}`;
      const rows: Row[] = await db`UPDATE ${this.#t(db, "downloads")}
        SET bytes_downloaded = CAST(CASE id ${bytes} END AS BIGINT), lease_until = ${this.#dialect.leaseEnd(db, leaseMs)}
        WHERE id IN ${db([...progress.keys()])} AND node = ${node} AND state IN ('running', 'verifying')
        RETURNING id, requested`;
      return heartbeatOf(rows);
    });
  }

  reclaimExpired(now: number): Promise<StoredEvent[]> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const expired: Row[] = await tx`SELECT * FROM ${this.#t(tx, "downloads")}
          WHERE state IN ('running', 'verifying')
            AND (lease_until IS NULL OR lease_until < ${this.#dialect.clock(tx)})
          ORDER BY id ${this.#dialect.lockFreeRows(tx)}`;
        const events: StoredEvent[] = [];
        for (const row of expired) {
          const before = toRecord(row);
          const record: DownloadRecord = {
            ...before,
            // A pause asked of the dead node still holds.
            state: row["requested"] === "pause" ? "paused" : "queued",
            node: undefined,
            updatedAt: now,
            failure: {
              kind: "lease_expired",
              retryable: true,
              message: `node ${before.node ?? "?"} stopped renewing its lease`,
            },
          };
          await this.#write(tx, record);
          events.push(await this.#event(tx, "changed", record, now));
        }
        return events;
      }),
    );
  }

  claimNode(
    claim: NodeClaim,
    leaseMs: number,
    _now: number,
    gone: (holder: NodeClaim) => boolean,
  ): Promise<NodeClaim | undefined> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const nodes = this.#t(tx, "nodes");
        // Two processes claiming one new name at once take turns (there is no row to lock yet).
        await this.#dialect.lock(tx, "nodes");
        const rows: Row[] =
          await tx`SELECT *, CASE WHEN until >= ${this.#dialect.clock(tx)} THEN 1 ELSE 0 END AS live
          FROM ${nodes} WHERE name = ${claim.node}`;
        const held = rows[0] === undefined ? undefined : nodeClaimOf(rows[0]);
        if (
          held !== undefined &&
          held.token !== claim.token &&
          Number(rows[0]?.["live"]) === 1 &&
          !gone(held)
        ) {
          return held;
        }
        await tx`INSERT INTO ${nodes} (name, token, host, pid, until)
          VALUES (${claim.node}, ${claim.token}, ${claim.host}, ${claim.pid}, ${this.#dialect.leaseEnd(tx, leaseMs)})
          ON CONFLICT (name) DO UPDATE SET token = excluded.token, host = excluded.host, pid = excluded.pid,
            until = excluded.until`;
        return undefined;
      }),
    );
  }

  renewNode(claim: NodeClaim, leaseMs: number, _now: number): Promise<boolean> {
    return this.#run(async () => {
      const db = this.#db;
      const rows: Row[] =
        await db`UPDATE ${this.#t(db, "nodes")} SET until = ${this.#dialect.leaseEnd(db, leaseMs)}
        WHERE name = ${claim.node} AND token = ${claim.token} RETURNING name`;
      return rows.length > 0;
    });
  }

  releaseNode(claim: NodeClaim): Promise<void> {
    return this.#run(async () => {
      await this.#db`DELETE FROM ${this.#t(this.#db, "nodes")}
        WHERE name = ${claim.node} AND token = ${claim.token}`;
    });
  }

  requestPause(id: number): Promise<boolean> {
    return this.#run(() =>
      this.#db.begin(async (tx) => {
        const rows: Row[] = await tx`UPDATE ${this.#t(tx, "downloads")} SET requested = 'pause'
          WHERE id = ${id} AND state IN ('running', 'verifying') AND node IS NOT NULL RETURNING node`;
        const node = rows[0]?.["node"];
        if (typeof node === "string") await this.#dialect.notify(tx, "dlm_requests", node);
        return rows.length > 0;
      }),
    );
  }

  onChange(wake: (what: "events" | "requests") => void): Promise<() => Promise<void>> {
    return this.#dialect.listen(this.#db, wake);
  }

  close(): Promise<void> {
    return this.#run(() => this.#db.close());
  }
}

/** The SQL store on SQLite: one machine, the queue in one file. */
export class SqliteStore extends SqlStore {
  /** Opens (creating if needed, 0600) the database at the absolute `path` and migrates it. */
  static async open(path: string): Promise<SqliteStore> {
    return new SqliteStore(await sqliteDialect.open(path), sqliteDialect).migrated();
  }
}

/** The SQL store on PostgreSQL: several `dlm serve` nodes sharing one queue. */
export class PostgresStore extends SqlStore {
  /** Connects to `url` (postgres://…) and migrates the schema. */
  static async open(url: string): Promise<PostgresStore> {
    return new PostgresStore(await postgresDialect.open(url), postgresDialect).migrated();
  }
}
