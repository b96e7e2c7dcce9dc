import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Download,
  DownloadSchema,
  type StatsResponse,
  StatsResponseSchema,
} from "../../gen/dlm/v1/download_pb.ts";
import type { DownloadView, QueueStats } from "../../manager/manager-events.ts";
import { redactHeaders } from "../shared/credential-headers.ts";
import { WIRE_STATES } from "../shared/download-states.ts";

export { queueStateOf, stateName, WIRE_STATES } from "../shared/download-states.ts";

/** Largest uint64 a message can carry; a stored value above it (written before numbers were bounded) is capped. */
const MAX_UINT64 = 2n ** 64n - 1n;
const MAX_INT32 = 2 ** 31 - 1;

/** A number as uint64: never throws (NaN and negatives are 0, too large is capped), so one row never breaks a list. */
function uint64(value: number): bigint {
  if (!Number.isFinite(value)) return value === Number.POSITIVE_INFINITY ? MAX_UINT64 : 0n;
  const n = BigInt(Math.max(0, Math.round(value)));
  return n > MAX_UINT64 ? MAX_UINT64 : n;
}

/** A number as int32/uint32 (same reasons as {@link uint64}). */
function int32(value: number, min = 0): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(MAX_INT32, Math.max(min, Math.round(value)));
}

/**
 * What to do about an output that already exists, in the terms of `dlm serve`'s clients (`dlm get --force`
 * has no counterpart in the queue: it never overwrites a file).
 */
export const OUTPUT_EXISTS_HINT =
  "remove it and resume the download, or add it again with another output (dlm add -o NAME; Add's output field)";

/** A failure's one line, with the queue's remedy where the engine's would not apply. */
function failureMessage(kind: string, message: string): string {
  return kind === "output_exists" && !message.includes(OUTPUT_EXISTS_HINT)
    ? `${message}; ${OUTPUT_EXISTS_HINT}`
    : message;
}

/** Milliseconds as a Timestamp; an impossible time is the epoch. */
function time(ms: number) {
  return timestampFromMs(Number.isFinite(ms) ? ms : 0);
}

/**
 * A download view as `dlm.v1.Download`; byte counts are uint64, times Timestamps. Credential headers carry
 * no value (see credential-headers.ts). It never throws: a value no field can hold is capped.
 */
export function toDownload(view: DownloadView, state = WIRE_STATES[view.state]): Download {
  return create(DownloadSchema, {
    id: uint64(view.id),
    url: view.url,
    output: view.output ?? "",
    directory: view.directory,
    path: view.path ?? "",
    headers: redactHeaders(view.headers).map(([name, value]) => ({ name, value })),
    mirrors: [...view.mirrors],
    checksum: view.checksum ?? "",
    connections: int32(view.connections),
    speedLimit: uint64(view.speedLimit),
    priority: int32(view.priority, -MAX_INT32),
    position: uint64(view.position),
    labels: [...view.labels],
    state,
    ...(view.failure === undefined
      ? {}
      : {
          failure: {
            kind: view.failure.kind,
            httpStatus: int32(view.failure.httpStatus ?? 0),
            retryable: view.failure.retryable,
            message: failureMessage(view.failure.kind, view.failure.message),
          },
        }),
    ...(view.nextTryAt === undefined ? {} : { nextTryTime: time(view.nextTryAt) }),
    bytesDownloaded: uint64(view.bytesDownloaded),
    ...(view.totalBytes === undefined ? {} : { totalBytes: uint64(view.totalBytes) }),
    bytesPerSecond: view.bytesPerSecond,
    attempts: int32(view.attempts),
    requestId: view.requestId ?? "",
    createTime: time(view.createdAt),
    updateTime: time(view.updatedAt),
    sha256: view.sha256 ?? "",
    activeConnections: int32(view.activeConnections ?? 0),
    node: view.node ?? "",
  });
}

/** The queue's counters as `dlm.v1.StatsResponse`. */
export function toStats(stats: QueueStats): StatsResponse {
  return create(StatsResponseSchema, {
    counts: [...stats.counts].map(([state, count]) => ({ state: WIRE_STATES[state], count: uint64(count) })),
    bytesPerSecond: stats.bytesPerSecond,
    active: int32(stats.active),
    maxActive: int32(stats.maxActive),
    globalSpeedLimit: uint64(stats.globalLimit),
  });
}
