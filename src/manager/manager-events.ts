import type { DownloadRecord, QueueState, StoredEvent } from "./download-record.ts";

/**
 * A download as clients see it: the stored record with live progress laid over it while it runs, and its
 * credential headers (secret-headers.ts) shown as set with the value "" (the row keeps the values).
 */
export interface DownloadView extends DownloadRecord {
  /**
   * Names of the headers in `headers` whose value is hidden (Authorization, Cookie, X-Api-Key...), in
   * order; absent or empty when none. An Update that gives one of them back with "" keeps the value set.
   */
  readonly secretHeaders?: readonly string[];
  /** Current rate, bytes per second (0 unless running). */
  readonly bytesPerSecond: number;
  /** Connections fetching now (absent unless running). */
  readonly activeConnections?: number;
}

/** The queue's counters. */
export interface QueueStats {
  readonly counts: ReadonlyMap<QueueState, number>;
  readonly bytesPerSecond: number;
  readonly active: number;
  readonly maxActive: number;
  /** Speed limit all downloads share, bytes per second (0 = none). */
  readonly globalLimit: number;
}

/**
 * What the manager tells its listeners: every stored event (in seq order, none skipped), and about every
 * 250 ms the progress of the running downloads and the counters (not stored; `seq` is the last stored one).
 */
export type ManagerEvent =
  | { readonly kind: "stored"; readonly event: StoredEvent }
  | {
      readonly kind: "tick";
      readonly seq: number;
      readonly progress: readonly DownloadView[];
      readonly stats: QueueStats;
    };

/** A synchronous listener; it must not throw nor block. */
export type ManagerListener = (event: ManagerEvent) => void;
