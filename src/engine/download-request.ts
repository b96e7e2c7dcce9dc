import type { ExpectedChecksum } from "./checksum.ts";
import type { RetryOptions } from "./retry-policy.ts";
import type { StorageKind } from "./storage/sink.ts";

/** Everything the user asked for one download, already validated by the interface that took it. */
export interface DownloadRequest {
  readonly url: string;
  /** Output path as given; undefined = derive from the server's answer. */
  readonly output: string | undefined;
  /** Connections to use, 1..64. */
  readonly connections: number;
  /** Inclusive slice to fetch; either end may be absent. */
  readonly rangeStart: number | undefined;
  readonly rangeEnd: number | undefined;
  readonly checksum: ExpectedChecksum | undefined;
  readonly headers: readonly (readonly [string, string])[];
  /** Overwrite an existing output file. */
  readonly force: boolean;
  /** Discard an existing sidecar (and a changed remote file's parts) and start over. */
  readonly restart: boolean;
  readonly storage: StorageKind;
  /** Abort and retry a connection that delivers no bytes for this long (ms). */
  readonly stallTimeoutMs: number;
  readonly retry: RetryOptions;
  /** Smallest segment the planner creates and the smallest half a worker steals (bytes). */
  readonly minSplitBytes: number;
  /** How often durable progress is written to state.json (ms). */
  readonly checkpointIntervalMs: number;
  /** Speed limit of the whole download, bytes/s, over all its connections; undefined = none. */
  readonly limitBytesPerSec?: number | undefined;
  /** More URLs of the same file, besides `url` (mirrors). */
  readonly mirrors?: readonly string[] | undefined;
}

/** Defaults shared by every interface (CLI flags, control plane). */
export const REQUEST_DEFAULTS = {
  connections: 8,
  stallTimeoutMs: 30_000,
  minSplitBytes: 1 << 20,
  checkpointIntervalMs: 1_000,
  storage: "in-place",
} as const satisfies Partial<DownloadRequest>;
