import { SQL } from "bun";
import {
  type DownloadRecord,
  type EventKind,
  type FailureInfo,
  type NewDownload,
  QUEUE_STATES,
  type QueueState,
  type RecordPatch,
  type StoredEvent,
} from "./download-record.ts";
import type { AddOutcome, RecordFilter, Store } from "./store.ts";

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
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

type Row = Record<string, unknown>;

/**
 * The Store on SQLite through Bun's built-in SQL client. One connection; every call runs in turn (a
 * promise chain), so a transaction never interleaves with another call. WAL with synchronous=NORMAL: a
 * commit survives the process being killed (kill -9), which is the failure the manager must ride out.
 */
export class SqliteStore implements Store {
  readonly #db: SQL;
  #turn: Promise<unknown> = Promise.resolve();

  private constructor(db: SQL) {
    this.#db = db;
  }

  /** Opens (creating if needed) the database at the absolute `path` and migrates it to SCHEMA_VERSION. */
  static async open(path: string): Promise<SqliteStore> {
    const db = new SQL(`sqlite://${path}`);
    await db`PRAGMA journal_mode = WAL`;
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
            request_id, url, output, directory, headers, checksum, connections, speed_limit, priority,
            position, labels, state, created_at, updated_at)
          VALUES (${input.requestId ?? null}, ${input.url}, ${input.output ?? null}, ${input.directory},
            ${JSON.stringify(input.headers)}, ${input.checksum ?? null}, ${input.connections},
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
        `SELECT * FROM downloads ${clause} ORDER BY priority DESC, position, id LIMIT ? OFFSET ?`,
        params,
      );
      return rows.map(toRecord);
    });
  }

  update(id: number, patch: RecordPatch, now: number): Promise<StoredEvent | undefined> {
    return this.#serial(() =>
      this.#db.begin(async (tx) => {
        const found: Row[] = await tx`SELECT * FROM downloads WHERE id = ${id}`;
        if (found[0] === undefined) return undefined;
        const record: DownloadRecord = { ...toRecord(found[0]), ...patch, updatedAt: now };
        await tx`UPDATE downloads SET
            url = ${record.url}, output = ${record.output ?? null}, directory = ${record.directory},
            path = ${record.path ?? null}, headers = ${JSON.stringify(record.headers)},
            checksum = ${record.checksum ?? null}, connections = ${record.connections},
            speed_limit = ${record.speedLimit}, priority = ${record.priority}, position = ${record.position},
            labels = ${JSON.stringify(record.labels)}, state = ${record.state},
            failure = ${record.failure === undefined ? null : JSON.stringify(record.failure)},
            next_try_at = ${record.nextTryAt ?? null}, attempts = ${record.attempts},
            bytes_downloaded = ${record.bytesDownloaded}, total_bytes = ${record.totalBytes ?? null},
            sha256 = ${record.sha256 ?? null}, updated_at = ${now}
          WHERE id = ${id}`;
        return appendEvent(tx, "changed", record, now);
      }),
    );
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

  pruneEvents(keep: number): Promise<void> {
    return this.#serial(async () => {
      await this.#db`DELETE FROM events WHERE seq <= ${(await this.#highWater()) - keep}`;
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
    VALUES (${record.id}, ${kind}, ${JSON.stringify(record)}, ${now}) RETURNING seq`;
  return { seq: Number(mustRow(rows)["seq"]), downloadId: record.id, kind, record };
}

function mustRow(rows: Row[]): Row {
  const row = rows[0];
  if (row === undefined) throw new Error("the database returned no row");
  return row;
}

function asState(value: unknown): QueueState {
  const state = QUEUE_STATES.find((s) => s === value);
  if (state === undefined) throw new Error(`database: unknown download state ${JSON.stringify(value)}`);
  return state;
}

function optionalText(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

function toRecord(row: Row): DownloadRecord {
  const failure = optionalText(row["failure"]);
  return {
    id: Number(row["id"]),
    url: String(row["url"]),
    output: optionalText(row["output"]),
    directory: String(row["directory"] ?? ""),
    path: optionalText(row["path"]),
    headers: JSON.parse(String(row["headers"])) as [string, string][],
    checksum: optionalText(row["checksum"]),
    connections: Number(row["connections"]),
    speedLimit: Number(row["speed_limit"]),
    priority: Number(row["priority"]),
    position: Number(row["position"]),
    labels: JSON.parse(String(row["labels"])) as string[],
    state: asState(row["state"]),
    failure: failure === undefined ? undefined : (JSON.parse(failure) as FailureInfo),
    nextTryAt: optionalNumber(row["next_try_at"]),
    attempts: Number(row["attempts"]),
    bytesDownloaded: Number(row["bytes_downloaded"]),
    totalBytes: optionalNumber(row["total_bytes"]),
    sha256: optionalText(row["sha256"]),
    requestId: optionalText(row["request_id"]),
    createdAt: Number(row["created_at"]),
    updatedAt: Number(row["updated_at"]),
  };
}

function toEvent(row: Row): StoredEvent {
  const kind = String(row["kind"]);
  if (kind !== "added" && kind !== "changed" && kind !== "removed") {
    throw new Error(`database: unknown event kind ${JSON.stringify(kind)}`);
  }
  return {
    seq: Number(row["seq"]),
    downloadId: Number(row["download_id"]),
    kind,
    record: JSON.parse(String(row["payload"])) as DownloadRecord,
  };
}
