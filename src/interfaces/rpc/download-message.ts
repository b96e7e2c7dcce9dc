import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Download,
  DownloadSchema,
  type StatsResponse,
  StatsResponseSchema,
} from "../../gen/dlm/v1/download_pb.ts";
import type { DownloadView, QueueStats } from "../../manager/manager-events.ts";
import { WIRE_STATES } from "../shared/download-states.ts";

export { queueStateOf, stateName, WIRE_STATES } from "../shared/download-states.ts";

function uint64(value: number): bigint {
  return BigInt(Math.max(0, Math.round(value)));
}

/** A download view as `dlm.v1.Download`; byte counts are uint64, times Timestamps. */
export function toDownload(view: DownloadView, state = WIRE_STATES[view.state]): Download {
  return create(DownloadSchema, {
    id: uint64(view.id),
    url: view.url,
    output: view.output ?? "",
    directory: view.directory,
    path: view.path ?? "",
    headers: view.headers.map(([name, value]) => ({ name, value })),
    mirrors: [...view.mirrors],
    checksum: view.checksum ?? "",
    connections: view.connections,
    speedLimit: uint64(view.speedLimit),
    priority: view.priority,
    position: uint64(view.position),
    labels: [...view.labels],
    state,
    ...(view.failure === undefined
      ? {}
      : {
          failure: {
            kind: view.failure.kind,
            httpStatus: view.failure.httpStatus ?? 0,
            retryable: view.failure.retryable,
            message: view.failure.message,
          },
        }),
    ...(view.nextTryAt === undefined ? {} : { nextTryTime: timestampFromMs(view.nextTryAt) }),
    bytesDownloaded: uint64(view.bytesDownloaded),
    ...(view.totalBytes === undefined ? {} : { totalBytes: uint64(view.totalBytes) }),
    bytesPerSecond: view.bytesPerSecond,
    attempts: view.attempts,
    requestId: view.requestId ?? "",
    createTime: timestampFromMs(view.createdAt),
    updateTime: timestampFromMs(view.updatedAt),
    sha256: view.sha256 ?? "",
    activeConnections: view.activeConnections ?? 0,
    node: view.node ?? "",
  });
}

/** The queue's counters as `dlm.v1.StatsResponse`. */
export function toStats(stats: QueueStats): StatsResponse {
  return create(StatsResponseSchema, {
    counts: [...stats.counts].map(([state, count]) => ({ state: WIRE_STATES[state], count: uint64(count) })),
    bytesPerSecond: stats.bytesPerSecond,
    active: stats.active,
    maxActive: stats.maxActive,
    globalSpeedLimit: uint64(stats.globalLimit),
  });
}
