import type { SQL } from "bun";

/** A piece of SQL with its values bound, as Bun's tagged template builds it. */
export type Fragment = SQL.Query<unknown>;

/** The tables of the schema (by role; each dialect names them). */
export type TableRole = "downloads" | "events" | "nodes" | "version";

/** What several processes must take turns on (there is no row to lock for them). */
export type LockName = "migrations" | "positions" | "nodes";

/** The values of one `events` row (seq is the database's); the one place naming its columns. */
export interface EventColumns {
  readonly download_id: number;
  readonly kind: string;
  readonly payload: string;
  readonly at: number;
}

/**
 * What differs between the databases the SQL store runs on (sql-store.ts holds everything else, written
 * once): how to open one, its schema and migrations, its clock, how concurrent writers take turns, how the
 * event sequence is kept, and how other processes hear of a change.
 */
export interface SqlDialect {
  /** Other processes change the queue too (see Store.shared). */
  readonly shared: boolean;
  /** One connection: the store runs its calls in turn, so a transaction never interleaves with another. */
  readonly oneConnection: boolean;
  readonly tables: Readonly<Record<TableRole, string>>;
  /**
   * Schema migrations, in order; migration N (1-based) brings the schema version from N-1 to N. Never edit
   * a shipped one: add the next.
   */
  readonly migrations: readonly (readonly string[])[];
  /** Opens the database `target` names (a path or a URL). */
  open(target: string): Promise<SQL>;
  /** Now on the database's clock, as leases are stored: the nodes' clocks need not agree. */
  clock(sql: SQL): Fragment;
  /** Now + `leaseMs` on the database's clock, as leases are stored. */
  leaseEnd(sql: SQL, leaseMs: number): Fragment;
  /** Appended to a SELECT: locks the rows until commit, waiting for other writers of them. */
  lockRows(sql: SQL): Fragment;
  /** Appended to a SELECT: locks the rows until commit, leaving out rows another writer holds. */
  lockFreeRows(sql: SQL): Fragment;
  /** Takes `lock` until the transaction ends. */
  lock(tx: SQL, lock: LockName): Promise<void>;
  /** A FROM item listing the `labels` JSON array of a downloads row as rows with a `value` column. */
  labelValues(sql: SQL): Fragment;
  /** An `events` row's payload size in bytes. */
  payloadBytes(sql: SQL): Fragment;
  /** The largest seq ever given, NULL before the first (pruning never lowers it). */
  lastSeq(sql: SQL): Fragment;
  /** Stores one event as the transaction's last write; returns its seq. */
  appendEvent(tx: SQL, columns: EventColumns): Promise<number>;
  /** Tells other processes listening on `channel` once the transaction commits. */
  notify(tx: SQL, channel: "dlm_requests", payload: string): Promise<void>;
  /** Calls `wake` when another process stores an event or asks for a pause; the result stops it. */
  listen(db: SQL, wake: (what: "events" | "requests") => void): Promise<() => Promise<void>>;
}
