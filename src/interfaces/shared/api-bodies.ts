import type { DownloadState, SegmentProgress } from "../../progress/snapshot.ts";

/**
 * The JSON bodies of the REST control API, as plain types: the CLI reads them without loading Elysia,
 * whose schemas (http/status-body.ts) are checked at compile time to describe exactly these.
 */

/** One segment in `GET /status`; absent values (no worker) are left out. */
export interface SegmentBody {
  id: number;
  start: number;
  end: number;
  done: number;
  worker?: number;
  state: SegmentProgress["state"];
  bytesPerSecond: number;
  slow: boolean;
  retries: number;
}

/** Body of `GET /status`: the progress snapshot, absent values left out rather than null. */
export interface StatusBody {
  download: string;
  url: string;
  state: DownloadState;
  bytesDownloaded: number;
  totalBytes?: number;
  percent?: number;
  bytesPerSecond: number;
  etaSeconds?: number;
  activeConnections: number;
  segments: SegmentBody[];
  elapsedMs: number;
  error?: { code: string; message: string };
}

/** Body of `POST /pause|/resume|/cancel`: the state the command led to; `changed` false for a no-op. */
export interface CommandBody {
  state: DownloadState;
  changed: boolean;
}

/** Every error body: a stable code (gRPC/Connect vocabulary) and a one-line message. */
export interface ErrorBody {
  code: string;
  message: string;
}
