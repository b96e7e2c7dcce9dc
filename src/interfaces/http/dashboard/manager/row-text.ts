/**
 * The words and numbers of one row of the manager's list, from a `Download`: name, state, progress, size,
 * rate, ETA, and why it failed or when it tries again. Pure (no DOM), unit-tested under Bun.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Download, DownloadState } from "../../../../gen/dlm/v1/download_pb.ts";
import { stateName } from "../../../shared/download-states.ts";
import { formatBytes, formatDuration, formatRate } from "../../../shared/format.ts";

/** What a row shows. */
export interface RowText {
  readonly name: string;
  readonly state: string;
  /** 0..100, undefined while the size is unknown. */
  readonly percent: number | undefined;
  /** "12.0 MiB of 64.0 MiB", or what is known. */
  readonly size: string;
  readonly rate: string;
  readonly eta: string;
  readonly connections: string;
  /** Why it failed or waits, said once ("HTTP 404 Not Found for …"); "" when nothing went wrong. */
  readonly problem: string;
  /** For a retrying download: "next try in 12s (attempt 2)"; else "". */
  readonly retry: string;
}

/** The file name shown: the output's base name, else the URL's last path segment, else the URL. */
export function displayName(d: Download): string {
  const fromPath = (d.path || d.output).split("/").pop();
  if (fromPath) return fromPath;
  const url = URL.parse(d.url);
  const last = url?.pathname.split("/").pop();
  return last ? decodeURIComponent(last) : d.url;
}

/**
 * Why `d` failed or waits, said once: the failure's own message, which already names the status and the URL
 * ("HTTP 404 Not Found for …"). The status is put in front only when the message does not say it, and the
 * kind (a code such as "http_status", for programs) only when there is no message at all.
 */
export function problemText(d: Download): string {
  const f = d.failure;
  if (f === undefined) return "";
  const status = f.httpStatus === 0 ? "" : `HTTP ${f.httpStatus}`;
  if (f.message === "") return status === "" ? f.kind : status;
  return status === "" || f.message.includes(String(f.httpStatus)) ? f.message : `${status}: ${f.message}`;
}

/** The row of `d` at wall-clock `nowMs` (for the retry countdown). */
export function rowText(d: Download, nowMs: number): RowText {
  const done = Number(d.bytesDownloaded);
  const total = d.totalBytes === undefined ? undefined : Number(d.totalBytes);
  const running = d.state === DownloadState.RUNNING;
  const finished = d.state === DownloadState.FINISHED;
  const percent =
    total === undefined
      ? finished
        ? 100
        : undefined
      : total === 0
        ? 100
        : Math.min(100, (done / total) * 100);
  const size =
    total === undefined
      ? done > 0
        ? formatBytes(done)
        : "-"
      : `${formatBytes(done)} of ${formatBytes(total)}`;
  const eta =
    running && total !== undefined && d.bytesPerSecond > 0
      ? formatDuration(Math.max(0, total - done) / d.bytesPerSecond)
      : "-";
  let retry = "";
  if (d.state === DownloadState.RETRYING && d.nextTryTime !== undefined) {
    const at = timestampMs(d.nextTryTime);
    const wait = Math.max(0, (at - nowMs) / 1000);
    // The viewer's local time, 24-hour (no AM/PM to misread).
    const clock = new Date(at).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    retry = `next try ${wait < 1 ? "now" : `in ${formatDuration(wait)}`} (${clock}, attempt ${d.attempts + 1})`;
  }
  return {
    name: displayName(d),
    state: stateName(d.state),
    percent,
    size,
    rate: running ? formatRate(d.bytesPerSecond) : "-",
    eta,
    connections: running ? String(d.activeConnections) : "-",
    problem: problemText(d),
    retry,
  };
}

/** A row's one state-following button: its word, and the call it makes. */
export interface RowToggle {
  readonly label: "Pause" | "Resume" | "Retry" | "Retry now";
  readonly command: "pause" | "resume";
  /** Nothing to pause or resume (finished, or being verified). */
  readonly disabled: boolean;
}

/**
 * The toggle of a row in `state`: a paused download offers Resume, a failed one Retry, a retrying one Retry
 * now (all three resume); the others Pause. Decided from the state, never from what a button says.
 */
export function rowToggle(state: DownloadState): RowToggle {
  const disabled = state === DownloadState.FINISHED || state === DownloadState.VERIFYING;
  if (state === DownloadState.PAUSED) return { label: "Resume", command: "resume", disabled };
  if (state === DownloadState.FAILED) return { label: "Retry", command: "resume", disabled };
  if (state === DownloadState.RETRYING) return { label: "Retry now", command: "resume", disabled };
  return { label: "Pause", command: "pause", disabled };
}

const UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * A speed limit as people type it ("512K", "2M", "1048576", "" or "0" for none), in bytes per second;
 * undefined when it is not one. The same forms as `dlm serve --limit`.
 */
export function parseRate(input: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i.exec(input.trim());
  if (input.trim() === "") return 0;
  const unit = UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match?.[1] === undefined || unit === undefined) return undefined;
  const value = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A limit for an input field: "" for none, else "2M"-style when exact, else bytes. */
export function rateInput(bytesPerSecond: bigint | number): string {
  const n = Number(bytesPerSecond);
  if (n === 0) return "";
  for (const [suffix, unit] of [
    ["G", 1024 ** 3],
    ["M", 1024 ** 2],
    ["K", 1024],
  ] as const) {
    if (n % unit === 0) return `${n / unit}${suffix}`;
  }
  return String(n);
}
