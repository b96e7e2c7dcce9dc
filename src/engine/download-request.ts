import type { ExpectedChecksum } from "./checksum.ts";
import type { PieceHashes } from "./piece-hashes.ts";
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
  /** `--checksum-file URL|PATH`: the sums list the expected sum is read from (published-sum.ts). */
  readonly checksumFile?: string | undefined;
  /** `--checksum auto`: look for NAME.sha256 ... SHA256SUMS beside the URL (checksum-auto.ts). */
  readonly checksumAuto?: boolean | undefined;
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
  /**
   * The user gave minSplitBytes (`--min-split`): it holds alone. Otherwise a big file's early segments are
   * at least a share of the file (plan.ts FILE_FLOOR_SHARE).
   */
  readonly minSplitExplicit?: boolean | undefined;
  /** How often durable progress is written to state.json (ms). */
  readonly checkpointIntervalMs: number;
  /** Speed limit of the whole download, bytes/s, over all its connections; undefined = none. */
  readonly limitBytesPerSec?: number | undefined;
  /**
   * `--refresh-cmd` argv (no shell): prints a fresh URL when the link expires (refresh.ts). Only the user's
   * own CLI or the daemon owner's configuration set it, never an API client (it runs a program).
   */
  readonly refreshCommand?: readonly string[] | undefined;
  /** More URLs of the same file, besides `url` (--mirror, a Metalink's urls). */
  readonly mirrors?: readonly string[] | undefined;
  /** Hashes of the file's pieces (a Metalink's `<pieces>`), checked as pieces complete. */
  readonly pieceHashes?: PieceHashes | undefined;
  /** Do not add the mirrors a server names in `Link: <…>; rel=duplicate` headers (RFC 6249). */
  readonly noLinkMirrors?: boolean | undefined;
}

/** Defaults shared by every interface (CLI flags, control plane). */
export const REQUEST_DEFAULTS = {
  connections: 8,
  stallTimeoutMs: 30_000,
  minSplitBytes: 1 << 20,
  checkpointIntervalMs: 1_000,
  storage: "in-place",
} as const satisfies Partial<DownloadRequest>;
