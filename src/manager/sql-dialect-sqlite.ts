import { chmod, writeFile } from "node:fs/promises";
import { SQL } from "bun";
import type { Fragment, SqlDialect } from "./sql-dialect.ts";
import { mustRow, type Row } from "./store-rows.ts";

/** AUTOINCREMENT keeps ids and sequence numbers from ever being reused. */
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
    // Leases (see Store): which node runs a download, until when (ms, the database's clock), and a pause
    // asked of it.
    "ALTER TABLE downloads ADD COLUMN node TEXT",
    "ALTER TABLE downloads ADD COLUMN lease_until INTEGER",
    "ALTER TABLE downloads ADD COLUMN requested TEXT",
  ],
  [
    // Events stored before credential headers became write-only held their values: drop every header.
    "UPDATE events SET payload = json_set(payload, '$.headers', json('[]'))",
  ],
  [
    // Which process holds each node name (see Store.claimNode), until when (ms, the database's clock).
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

/** The schema version this code reads and writes on SQLite. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Opens (creating if needed) the database at the absolute `path`. WAL with synchronous=NORMAL: a commit
 * survives the process being killed (kill -9), which is the failure the manager must ride out.
 */
async function open(path: string): Promise<SQL> {
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
  return db;
}

/** Now in ms on SQLite's clock (julianday('now'): every SQLite version has it; the same within a statement). */
function clock(sql: SQL): Fragment {
  return sql`CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`;
}

/**
 * SQLite, one machine: one process owns the file (serve.json guards the home), so nobody else changes the
 * queue, there is nothing to notify and one connection serves every call in turn (no row locks needed).
 * Leases and node claims are milliseconds on SQLite's clock.
 */
export const sqliteDialect: SqlDialect = {
  shared: false,
  oneConnection: true,
  tables: { downloads: "downloads", events: "events", nodes: "nodes", version: "schema_version" },
  migrations: MIGRATIONS,
  open,
  clock,
  leaseEnd: (sql, leaseMs) => sql`(${clock(sql)} + ${leaseMs})`,
  lockRows: (sql) => sql``,
  lockFreeRows: (sql) => sql``,
  lock: async () => undefined,
  labelValues: (sql) => sql`json_each(labels)`,
  payloadBytes: (sql) => sql`length(CAST(payload AS BLOB))`,
  lastSeq: (sql) => sql`(SELECT seq FROM sqlite_sequence WHERE name = 'events')`,
  async appendEvent(tx, columns) {
    const rows: Row[] = await tx`INSERT INTO events ${tx(columns)} RETURNING seq`;
    return Number(mustRow(rows)["seq"]);
  },
  notify: async () => undefined,
  listen: async () => async () => undefined,
};
