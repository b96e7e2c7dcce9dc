/** Where a download is in the manager's queue (the wire form is `dlm.v1.DownloadState`). */
export type QueueState = "queued" | "running" | "paused" | "retrying" | "verifying" | "finished" | "failed";

/** Every queue state, in lifecycle order. */
export const QUEUE_STATES: readonly QueueState[] = [
  "queued",
  "running",
  "paused",
  "retrying",
  "verifying",
  "finished",
  "failed",
];

/** States in which a download holds a slot (runs in this process). */
export const ACTIVE_STATES: ReadonlySet<QueueState> = new Set(["running", "verifying"]);

/** Why a download failed or waits to retry. */
export interface FailureInfo {
  /** DlmError code: "network", "http_status", "integrity"... ("unexpected" for anything else). */
  readonly kind: string;
  /** HTTP status of the failing answer, when there was one. */
  readonly httpStatus?: number | undefined;
  /** Whether the manager retries it by itself. */
  readonly retryable: boolean;
  /** One line naming the URL or file. */
  readonly message: string;
}

/**
 * One download as the store keeps it. The store never vouches for bytes: `bytesDownloaded` and `totalBytes`
 * are what was last seen, for display; the sidecar (FILE.dlm/state.json) is the truth about data.
 */
export interface DownloadRecord {
  readonly id: number;
  readonly url: string;
  /** File name as asked, relative to `directory`; undefined = the server's suggestion. */
  readonly output: string | undefined;
  /** Directory relative to the manager's download directory ("" = the directory itself). */
  readonly directory: string;
  /** Absolute output path once known (asked for, or chosen after the probe); resumes go to it. */
  readonly path: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  /** More http(s) URLs of the same file (`--mirror`, a Metalink's other urls); empty = none. */
  readonly mirrors: readonly string[];
  /** "ALGO:HEX" as `--checksum` takes it. */
  readonly checksum: string | undefined;
  /** Connections asked for; 0 = the default. */
  readonly connections: number;
  /** Bytes per second; 0 = none. */
  readonly speedLimit: number;
  /** Higher runs first. */
  readonly priority: number;
  /** Order among equal priorities, lower first. */
  readonly position: number;
  readonly labels: readonly string[];
  readonly state: QueueState;
  readonly failure: FailureInfo | undefined;
  /** Wall-clock ms when a retrying download may run again. */
  readonly nextTryAt: number | undefined;
  /** Runs that ended in a retryable failure since the last success or resume. */
  readonly attempts: number;
  readonly bytesDownloaded: number;
  readonly totalBytes: number | undefined;
  /** SHA-256 (hex) of the finished file. */
  readonly sha256: string | undefined;
  readonly requestId: string | undefined;
  /**
   * The node (`dlm serve` process) that holds the download's lease while it is running or verifying;
   * undefined otherwise. Several nodes share one queue on PostgreSQL.
   */
  readonly node: string | undefined;
  /** Wall-clock ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What Add stores; the store assigns id, position and timestamps. */
export type NewDownload = Pick<
  DownloadRecord,
  | "url"
  | "output"
  | "directory"
  | "headers"
  | "mirrors"
  | "checksum"
  | "connections"
  | "speedLimit"
  | "priority"
  | "labels"
  | "state"
  | "requestId"
>;

/** Fields a change may set; `undefined` values clear optional fields (failure, nextTryAt...). */
export type RecordPatch = Partial<Omit<DownloadRecord, "id" | "requestId" | "createdAt" | "updatedAt">>;

/** Kinds of stored events. */
export type EventKind = "added" | "changed" | "removed";

/** One stored event: what happened to which download, with the record as it was then. */
export interface StoredEvent {
  /** Global sequence number: strictly increasing, never reused. */
  readonly seq: number;
  readonly downloadId: number;
  readonly kind: EventKind;
  readonly record: DownloadRecord;
}
