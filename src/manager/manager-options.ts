import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import type { RetryOptions } from "../engine/retry-policy.ts";
import type { DownloadRecord } from "./download-record.ts";
import type { Store } from "./store.ts";

/** How a manager runs. */
export interface ManagerOptions {
  readonly store: Store;
  /** The world (fetch, clocks, env); `cwd` is replaced per download by its directory. */
  readonly ctx: Context;
  /** Absolute download directory; nothing is written outside it. */
  readonly dir: string;
  /**
   * The real path of `dir`, when its owner resolved it once for the manager's whole life (a batch in the
   * current directory): plans and starts use it instead of resolving `dir` again each time (a thread-pool
   * trip per file on the way to its first request). Subdirectories are still resolved at each start.
   */
  readonly realDir?: string | undefined;
  readonly maxActive: number;
  /** Connections all running downloads hold together (default maxActive × defaultConnections). */
  readonly connectionBudget?: number;
  /** Connections of a download that asks for none (default REQUEST_DEFAULTS.connections). */
  readonly defaultConnections?: number;
  /** First retry wait after a retryable failure, ms (default RETRY_BASE_MS). */
  readonly retryBaseMs?: number;
  /** Global speed limit, bytes per second shared by all downloads (0 or absent: none). */
  readonly globalLimit?: number;
  /** Retry retryable failures later (default true); false fails them once the engine's retries are spent. */
  readonly retryLater?: boolean;
  /** Stored events kept for WatchAll replays, at start and while running (default KEEP_EVENTS). */
  readonly keepEvents?: number;
  /** Bytes of stored event payloads kept, at start and while running (default KEEP_EVENT_BYTES). */
  readonly keepEventBytes?: number;
  /** Called once a download ends, finished or failed (the `--on-complete` hook); must not throw. */
  readonly onEnded?: (record: DownloadRecord) => void;
  /** The engine's own retries within one run (default DEFAULT_RETRY_OPTIONS, as `dlm get`). */
  readonly engineRetry?: RetryOptions;
  /** `dlm serve --refresh-cmd`: the owner's command for expired links (never an API client's: it runs a program). */
  readonly refreshCommand?: readonly string[] | undefined;
  /** This process's name among the nodes sharing the store (default "local"). */
  readonly node?: string;
  /**
   * How long a claimed download stays leased without a heartbeat, ms (default LEASE_MS). Another node
   * takes it over after that; this node stops it before that if it cannot renew the lease.
   */
  readonly leaseMs?: number;
  readonly log: Logger;
}

/**
 * Stored events kept at start: a watcher may reconnect this far back. Only state changes are stored (a few
 * per download), so this covers tens of thousands of downloads.
 */
export const KEEP_EVENTS = 100_000;

/** Bytes of stored event payloads kept (each event holds a record without secrets, a few hundred bytes). */
export const KEEP_EVENT_BYTES = 64 * 1024 * 1024;

/** How often progress and stats go to listeners, ms (at most 4 a second, as WatchAll promises). */
export const TICK_MS = 250;

/** Default lease of a claimed download without a heartbeat, ms. */
export const LEASE_MS = 15_000;

/**
 * Heartbeat period, ms: leases are renewed, expired ones reclaimed and (on a shared store) the event feed
 * read this often, so a pause asked on another node is acted on within a second even if its
 * notification is lost.
 */
export const HEARTBEAT_MS = 1_000;
