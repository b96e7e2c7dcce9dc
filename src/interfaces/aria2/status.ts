import { join } from "node:path";
import type { QueueState } from "../../manager/download-record.ts";
import type { DownloadView } from "../../manager/manager-events.ts";
import type { ProgressSnapshot } from "../../progress/snapshot.ts";
import { gidOf } from "./gid.ts";

/** aria2's statuses. */
export type Aria2Status = "active" | "waiting" | "paused" | "error" | "complete" | "removed";

/** Piece length dlm reports (aria2's default for HTTP downloads, 1 MiB); pieces only shape `bitfield`. */
export const PIECE_LENGTH = 1024 * 1024;

/** The aria2 status of a queue state: a download waiting to retry is waiting, one being verified active. */
export function statusOf(state: QueueState): Aria2Status {
  switch (state) {
    case "queued":
    case "retrying":
      return "waiting";
    case "running":
    case "verifying":
      return "active";
    case "paused":
      return "paused";
    case "finished":
      return "complete";
    case "failed":
      return "error";
  }
}

/**
 * aria2's exit status for a failure (its `errorCode`): 3 resource not found, 24 authorization failed,
 * 22 unexpected HTTP answer, 6 network problem, 32 checksum mismatch, 13 file exists, 17 file I/O, 1 other.
 */
export function errorCodeOf(kind: string, httpStatus: number | undefined): string {
  if (kind === "http_status") {
    if (httpStatus === 404 || httpStatus === 410) return "3";
    if (httpStatus === 401 || httpStatus === 407) return "24";
    return "22";
  }
  const codes: Readonly<Record<string, string>> = {
    network: "6",
    integrity: "32",
    output_exists: "13",
    storage: "17",
  };
  return codes[kind] ?? "1";
}

/** One download as aria2's tellStatus sees it: the queue row, live progress, and whether it was removed. */
export interface StatusSource {
  readonly view: DownloadView;
  readonly progress: ProgressSnapshot | undefined;
  /** Removed through aria2 (the row is gone; aria2 keeps such results until purged). */
  readonly removed: boolean;
  /** The download's URLs: the one given, then its mirrors. */
  readonly uris: readonly string[];
}

/** aria2's `bitfield`: one bit per piece, high bit first, set once every byte of the piece is in. */
export function bitfieldOf(total: number, done: (start: number, end: number) => boolean): string {
  const pieces = Math.ceil(total / PIECE_LENGTH);
  const bytes = new Uint8Array(Math.ceil(pieces / 8));
  for (let piece = 0; piece < pieces; piece++) {
    const start = piece * PIECE_LENGTH;
    if (done(start, Math.min(total, start + PIECE_LENGTH) - 1)) {
      bytes[piece >> 3] = (bytes[piece >> 3] ?? 0) | (0x80 >> (piece & 7));
    }
  }
  return Buffer.from(bytes).toString("hex");
}

/** Whether bytes start..end (inclusive) are written, by the live segments of a running download. */
function coveredBy(snapshot: ProgressSnapshot): (start: number, end: number) => boolean {
  const written = snapshot.segments
    .filter((segment) => segment.done > 0)
    .map((segment) => [segment.start, segment.start + segment.done - 1] as const)
    .sort((a, b) => a[0] - b[0]);
  return (start, end) => {
    let reach = start - 1;
    for (const [from, to] of written) {
      if (from > reach + 1) break;
      reach = Math.max(reach, to);
    }
    return reach >= end;
  };
}

/** The aria2 `uris` list of a download: the first in use while it runs, the others waiting. */
export function urisOf(uris: readonly string[], status: Aria2Status): { uri: string; status: string }[] {
  return uris.map((uri, index) => ({
    uri,
    status: index === 0 && status !== "waiting" && status !== "paused" ? "used" : "waiting",
  }));
}

/** The one file of a download as aria2's getFiles lists it. */
export function filesOf(source: StatusSource): Record<string, unknown>[] {
  const { view } = source;
  const status = source.removed ? "removed" : statusOf(view.state);
  return [
    {
      index: "1",
      path: view.path ?? "",
      length: String(view.totalBytes ?? 0),
      completedLength: String(completedOf(source)),
      selected: "true",
      uris: urisOf(source.uris, status),
    },
  ];
}

function completedOf(source: StatusSource): number {
  return source.progress?.bytesDownloaded ?? source.view.bytesDownloaded;
}

/** tellStatus's whole struct (every key aria2 sends for an HTTP download, values as strings). */
export function statusStruct(source: StatusSource, baseDir: string): Record<string, unknown> {
  const { view, progress } = source;
  const status: Aria2Status = source.removed ? "removed" : statusOf(view.state);
  const total = view.totalBytes ?? 0;
  const completed = completedOf(source);
  const out: Record<string, unknown> = {
    gid: gidOf(view.id),
    status,
    totalLength: String(total),
    completedLength: String(completed),
    uploadLength: "0",
    downloadSpeed: String(Math.round(progress?.bytesPerSecond ?? view.bytesPerSecond)),
    uploadSpeed: "0",
    connections: String(progress?.activeConnections ?? view.activeConnections ?? 0),
    numPieces: String(Math.ceil(total / PIECE_LENGTH)),
    pieceLength: String(PIECE_LENGTH),
    dir: join(baseDir, view.directory),
    files: filesOf(source),
  };
  if (total > 0) {
    // A download not running here has a byte count in the queue, not a map (its sidecar has that):
    // its bytes are shown as the first ones.
    const done =
      view.state === "finished" || view.state === "verifying"
        ? () => true
        : progress === undefined
          ? (_start: number, end: number) => end < completed
          : coveredBy(progress);
    out["bitfield"] = bitfieldOf(total, done);
  }
  if (status === "error" || status === "complete" || status === "removed") {
    const failure = view.failure;
    out["errorCode"] =
      status === "error" && failure !== undefined
        ? errorCodeOf(failure.kind, failure.httpStatus)
        : status === "removed"
          ? "31"
          : "0";
    out["errorMessage"] =
      status === "error" ? (failure?.message ?? "") : status === "removed" ? "Removed" : "";
  }
  if (view.state === "verifying") {
    out["verifiedLength"] = "0";
    out["verifyIntegrityPending"] = "false";
  }
  return out;
}

/** `struct` with only `keys` (all when none are asked), as tellStatus's keys parameter does. */
export function pick(
  struct: Record<string, unknown>,
  keys: readonly string[] | undefined,
): Record<string, unknown> {
  if (keys === undefined || keys.length === 0) return struct;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in struct) out[key] = struct[key];
  return out;
}
