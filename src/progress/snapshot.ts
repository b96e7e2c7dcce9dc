/**
 * Lifecycle of one download, owned by the Controller:
 * `probing → running ⇄ paused → verifying → finished | failed | cancelled`.
 */
export type DownloadState =
  | "probing"
  | "running"
  | "paused"
  | "verifying"
  | "finished"
  | "failed"
  | "cancelled";

/** The states after which nothing more happens; a hub subscription ends once one of them is delivered. */
export const TERMINAL_STATES: ReadonlySet<DownloadState> = new Set<DownloadState>([
  "finished",
  "failed",
  "cancelled",
]);

/** True for `finished`, `failed` and `cancelled`. */
export function isTerminalState(state: DownloadState): boolean {
  return TERMINAL_STATES.has(state);
}

/** Progress of one segment. Offsets are inclusive bytes of the output, as in HTTP Range. */
export interface SegmentProgress {
  id: number;
  start: number;
  /** Inclusive last byte. */
  end: number;
  /** Bytes from `start` already written. */
  done: number;
  /** Worker index that owns the segment, undefined while nobody does. */
  worker: number | undefined;
  /**
   * `stalled`: its connection has had no byte for half the stall timeout or more (at the full timeout it is
   * aborted and the segment is `retrying` until the next attempt).
   */
  state: "pending" | "active" | "retrying" | "done" | "stalled";
  /** Its connection's smoothed rate as the engine measures it, bytes/s (0 while not measured). */
  bytesPerSecond: number;
  /** Its connection is far slower than the median of its peers, by the engine's own rule. */
  slow: boolean;
  retries: number;
  /** The source its connection fetches from (0 = the URL given); undefined while nobody fetches it. */
  source?: number | undefined;
}

/** One place the file is fetched from, as progress shows it. */
export interface SourceProgress {
  /** 0 = the URL given; the others (mirrors) in the order they were learned. */
  id: number;
  /** Its URL as given, shown as origin and path only: userinfo, query and fragment may hold secrets. */
  url: string;
  /** `demoted`: failed several times in a row, used only where nothing better pays; `dropped`: not used again. */
  state: "active" | "demoted" | "dropped";
  /** Bytes stored from it this run. */
  bytes: number;
  /** Sum of the rates of its connections now, bytes/s (the same figures as its segments'). */
  bytesPerSecond: number;
  /** Connections on it now. */
  connections: number;
}

/**
 * One point-in-time view of a download, published by the meter about every 250 ms and on every state change.
 * Snapshots are shared by reference between every subscriber: treat them as immutable and build a fresh
 * object for each publish.
 */
export interface ProgressSnapshot {
  /** Output path. */
  download: string;
  url: string;
  state: DownloadState;
  /** Bytes on disk, including those of earlier runs of a resumed download. */
  bytesDownloaded: number;
  /** Size of the output in bytes; undefined when the server did not say. */
  totalBytes: number | undefined;
  /** 0..100; undefined when `totalBytes` is unknown. */
  percent: number | undefined;
  /** Current rate over the meter's sliding window, bytes per second. */
  bytesPerSecond: number;
  /** Seconds left at the current rate; undefined when the rate is 0 or the size unknown. */
  etaSeconds: number | undefined;
  activeConnections: number;
  segments: readonly SegmentProgress[];
  /** Where the file is fetched from (empty before the download starts, or from an older dlm). */
  sources?: readonly SourceProgress[];
  /** Time since this run started, ms. */
  elapsedMs: number;
  /** Set when `state` is `failed`: the DlmError code and its one-line message. */
  error?: { code: string; message: string };
}

/**
 * Percentage of `total` that `done` represents, clamped to 0..100; undefined when the total is unknown.
 * An empty download (total 0) is 100 % complete.
 */
export function percentOf(done: number, total: number | undefined): number | undefined {
  if (total === undefined) return undefined;
  if (total <= 0) return 100;
  return Math.min(100, Math.max(0, (done / total) * 100));
}
