// Over 300 lines on purpose: one server with many interacting switches (range rules, faults, pacing) reads best
// in one place. It is node:http, not Bun.serve: Bun.serve (1.4.4) drops a handler-set Content-Length on
// streamed bodies and sends them chunked (oven-sh/bun#10507), and an origin that never sends Content-Length
// cannot stand in for real servers. Bun's node:http keeps it, applies back-pressure and can cut a connection.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_SEED, fillBytes } from "./bytes.ts";

/** How one path is served. Only `size` is required; `undefined` in an `update` clears a switch. */
export interface OriginFile {
  /** Length of the file in bytes. */
  size: number;
  /** Content seed (see bytes.ts); default DEFAULT_SEED. */
  seed?: number | undefined;
  /** Strong ETag to send (with quotes); default derived from size and seed; `false` sends none. */
  etag?: string | false | undefined;
  /** Last-Modified value; default a fixed date; `false` sends none. */
  lastModified?: string | false | undefined;
  /** Ignore Range: always 200 with the full body, no Accept-Ranges. */
  ignoreRange?: boolean | undefined;
  /** Send no Content-Length (chunked body); Range requests then also get 200 with the full body. */
  noContentLength?: boolean | undefined;
  /** Pace each response's body to this many bytes per second (per response, not shared). */
  throttleBytesPerSec?: number | undefined;
  /** Always answer this status with a short text body (e.g. 404). */
  status?: number | undefined;
  /** Answer 302 with `Location: redirectTo` (a path on this origin or a full URL); chains are fine. */
  redirectTo?: string | undefined;
  /** Content-Disposition value to send with the file. */
  contentDisposition?: string | undefined;
  /** Per response: send this many body bytes, then cut the connection. */
  dropAfterBytes?: number | undefined;
  /** How many responses dropAfterBytes applies to (counted from serve/update); default unlimited. */
  dropTimes?: number | undefined;
  /** Per response: send this many body bytes, then send nothing more until the client goes away. */
  stallAfterBytes?: number | undefined;
  /** How many responses stallAfterBytes applies to; default unlimited. */
  stallTimes?: number | undefined;
  /** The next requests, one per entry and in order, get that status instead (e.g. [503, 429]). */
  failStatuses?: number[] | undefined;
  /** Retry-After value sent with failStatuses answers and with `status`. */
  retryAfter?: string | undefined;
  /** After this many 206 answers, answer further Range requests with 200 and the full body. */
  rangeIgnoredAfterRequests?: number | undefined;
  /** Answer 206 for a range shifted by one byte (towards the end where possible); body matches header. */
  wrongContentRange?: boolean | undefined;
  /** Answer 206 with correct headers but this many bytes fewer than promised, then close the connection. */
  shortBody?: number | undefined;
  /** Answer 503 (with retryAfter, if set) to a GET while this many answers of this path are still being sent. */
  maxConcurrent?: number | undefined;
}

/** One request as the origin saw it. `at` is Date.now() in ms when the answer was chosen. */
export interface OriginRequest {
  path: string;
  method: string;
  range?: string;
  ifRange?: string;
  status: number;
  at: number;
}

/** Counters since start or the last resetStats(). */
export interface OriginStats {
  /** Body bytes handed to the socket across all responses (not counting headers). */
  bytesServed: number;
  requests: OriginRequest[];
}

/** A running fault-injecting origin on 127.0.0.1. */
export interface Origin {
  /** TCP port it listens on. */
  readonly port: number;
  /** Registers or replaces `path` (resetting its counters); returns its full URL. */
  serve(path: string, file: OriginFile): string;
  /** Merges `patch` into a registered file; counters of the switches it names restart. Throws if unknown. */
  update(path: string, patch: Partial<OriginFile>): void;
  /** Full URL of `path`: `http://127.0.0.1:PORT/path`. */
  url(path: string): string;
  /** Live counters (the same object across resetStats). */
  readonly stats: OriginStats;
  /** Zeroes bytesServed and empties requests, in place. */
  resetStats(): void;
  /** Cuts every open connection and stops listening. */
  close(): Promise<void>;
}

/** Last-Modified sent unless a file sets its own. */
export const DEFAULT_LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT";

interface Entry {
  file: OriginFile;
  dropped: number;
  stalled: number;
  failQueue: number[];
  ranged: number;
  /** Answers of this path still being sent (see maxConcurrent). */
  open: number;
}

type RangeAnswer =
  | { kind: "full" }
  | { kind: "unsatisfiable" }
  | { kind: "partial"; start: number; end: number };

const FAST_CHUNK = 256 * 1024;

/** The ETag the origin sends for `file` now, or undefined for none. */
export function etagOf(file: OriginFile): string | undefined {
  if (file.etag === false) return undefined;
  return file.etag ?? `"${file.size.toString(16)}-${(file.seed ?? DEFAULT_SEED).toString(16)}"`;
}

function lastModifiedOf(file: OriginFile): string | undefined {
  if (file.lastModified === false) return undefined;
  return file.lastModified ?? DEFAULT_LAST_MODIFIED;
}

/** Starts an origin on 127.0.0.1 with an OS-chosen port. */
export async function startOrigin(): Promise<Origin> {
  const files = new Map<string, Entry>();
  const stats: OriginStats = { bytesServed: 0, requests: [] };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = (path: string) => `http://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const method = req.method ?? "GET";
    const range = headerOf(req, "range");
    const ifRange = headerOf(req, "if-range");
    const record: OriginRequest = { path, method, status: 0, at: Date.now() };
    if (range !== undefined) record.range = range;
    if (ifRange !== undefined) record.ifRange = ifRange;
    stats.requests.push(record);
    const text = (status: number, body: string): void => {
      record.status = status;
      res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": String(body.length) });
      res.end(method === "HEAD" ? undefined : body);
    };
    const entry = files.get(path);
    if (entry === undefined) {
      text(404, "not found\n");
      return;
    }
    const file = entry.file;
    const failure = entry.failQueue.shift() ?? file.status;
    if (failure !== undefined) {
      if (file.retryAfter !== undefined) res.setHeader("Retry-After", file.retryAfter);
      text(failure, `status ${failure}\n`);
      return;
    }
    if (file.maxConcurrent !== undefined && method === "GET") {
      if (entry.open >= file.maxConcurrent) {
        if (file.retryAfter !== undefined) res.setHeader("Retry-After", file.retryAfter);
        text(503, "too many connections\n");
        return;
      }
      entry.open++;
      res.once("close", () => entry.open--);
    }
    if (file.redirectTo !== undefined) {
      res.setHeader("Location", file.redirectTo);
      text(302, "moved\n");
      return;
    }

    const etag = etagOf(file);
    const lastModified = lastModifiedOf(file);
    res.setHeader("Content-Type", "application/octet-stream");
    if (!file.ignoreRange) res.setHeader("Accept-Ranges", "bytes");
    if (etag !== undefined) res.setHeader("ETag", etag);
    if (lastModified !== undefined) res.setHeader("Last-Modified", lastModified);
    if (file.contentDisposition !== undefined) res.setHeader("Content-Disposition", file.contentDisposition);

    const answer = rangeAnswer(method, range, ifRange, file, etag, lastModified, entry.ranged);
    if (answer.kind === "unsatisfiable") {
      // RFC 9110 §15.5.17: a 416 names the current length.
      res.setHeader("Content-Range", `bytes */${file.size}`);
      text(416, "range not satisfiable\n");
      return;
    }
    let start = 0;
    let length = file.size;
    let status = 200;
    if (answer.kind === "partial") {
      entry.ranged++;
      status = 206;
      ({ start, length } = shifted(answer.start, answer.end, file));
      res.setHeader("Content-Range", `bytes ${start}-${start + length - 1}/${file.size}`);
    }
    if (!file.noContentLength) res.setHeader("Content-Length", String(length));
    let send = length;
    if (status === 206 && file.shortBody !== undefined) {
      send = Math.max(0, length - file.shortBody);
      // With Content-Length promised, closing the connection is the only way to end a short body.
      res.setHeader("Connection", "close");
    }
    record.status = status;
    res.writeHead(status);
    if (method === "HEAD") {
      res.end();
      return;
    }

    let cutAt: number | undefined;
    if (file.dropAfterBytes !== undefined && file.dropAfterBytes < send) {
      if (file.dropTimes === undefined || entry.dropped < file.dropTimes) {
        entry.dropped++;
        cutAt = file.dropAfterBytes;
      }
    }
    let stallAt: number | undefined;
    if (cutAt === undefined && file.stallAfterBytes !== undefined && file.stallAfterBytes < send) {
      if (file.stallTimes === undefined || entry.stalled < file.stallTimes) {
        entry.stalled++;
        stallAt = file.stallAfterBytes;
      }
    }
    pump(res, {
      start,
      send,
      seed: file.seed ?? DEFAULT_SEED,
      cutAt,
      stallAt,
      rate: file.throttleBytesPerSec,
    });
  }

  interface PumpPlan {
    start: number;
    send: number;
    seed: number;
    cutAt: number | undefined;
    stallAt: number | undefined;
    rate: number | undefined;
  }

  /** Writes the body with back-pressure (waits for "drain"), pacing and faults; stops when the client leaves. */
  function pump(res: ServerResponse, plan: PumpPlan): void {
    const { rate } = plan;
    const limit = Math.min(plan.send, plan.cutAt ?? Number.POSITIVE_INFINITY, plan.stallAt ?? plan.send);
    const chunk =
      rate === undefined ? FAST_CHUNK : Math.min(64 * 1024, Math.max(1024, Math.floor(rate / 16)));
    const began = performance.now();
    let sent = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let gone = false;
    res.once("close", () => {
      gone = true;
      clearTimeout(timer);
    });
    const step = (): void => {
      timer = undefined;
      while (!gone) {
        if (sent >= limit) {
          if (plan.cutAt !== undefined) res.destroy();
          else if (plan.stallAt === undefined) res.end();
          // A stall just stops writing; "close" clears up when the client gives up or close() runs.
          return;
        }
        const n = Math.min(chunk, limit - sent);
        if (rate !== undefined) {
          // Pace by the end of the chunk, so the body never arrives faster than `rate`.
          const wait = began + ((sent + n) / rate) * 1000 - performance.now();
          if (wait > 0) {
            timer = setTimeout(step, wait);
            return;
          }
        }
        // A fresh buffer per write: the socket may still hold the previous one.
        const buf = new Uint8Array(n);
        fillBytes(buf, plan.start + sent, plan.seed);
        sent += n;
        stats.bytesServed += n;
        if (!res.write(buf)) {
          res.once("drain", step);
          return;
        }
      }
    };
    step();
  }

  return {
    port,
    stats,
    url,
    serve(path, file) {
      files.set(path, {
        file: { ...file },
        dropped: 0,
        stalled: 0,
        failQueue: [...(file.failStatuses ?? [])],
        ranged: 0,
        open: 0,
      });
      return url(path);
    },
    update(path, patch) {
      const entry = files.get(path);
      if (entry === undefined) throw new Error(`origin.update: ${path} is not served`);
      entry.file = { ...entry.file, ...patch, size: patch.size ?? entry.file.size };
      if ("failStatuses" in patch) entry.failQueue = [...(patch.failStatuses ?? [])];
      if ("dropAfterBytes" in patch || "dropTimes" in patch) entry.dropped = 0;
      if ("stallAfterBytes" in patch || "stallTimes" in patch) entry.stalled = 0;
      if ("rangeIgnoredAfterRequests" in patch) entry.ranged = 0;
    },
    resetStats() {
      stats.bytesServed = 0;
      stats.requests.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One request header as a string (repeated ones joined as RFC 9110 §5.3 allows). */
function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Decides between 200, 206 and 416 for a request (RFC 9110 §14). */
function rangeAnswer(
  method: string,
  range: string | undefined,
  ifRange: string | undefined,
  file: OriginFile,
  etag: string | undefined,
  lastModified: string | undefined,
  rangedSoFar: number,
): RangeAnswer {
  // §14.2: Range is defined for GET only; other methods ignore it.
  if (range === undefined || method !== "GET" || file.ignoreRange || file.noContentLength)
    return { kind: "full" };
  if (file.rangeIgnoredAfterRequests !== undefined && rangedSoFar >= file.rangeIgnoredAfterRequests) {
    return { kind: "full" };
  }
  // §13.1.5: If-Range matches only a strong ETag compared strongly, or an exactly equal Last-Modified date.
  if (ifRange !== undefined) {
    const isTag = ifRange.startsWith('"') || ifRange.startsWith("W/");
    const matches = isTag
      ? etag !== undefined && !etag.startsWith("W/") && ifRange === etag
      : lastModified !== undefined && ifRange === lastModified;
    if (!matches) return { kind: "full" };
  }
  // §14.1.2: one range only here; several ranges or bad syntax are ignored (allowed by §14.2).
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  const first = m?.[1] ?? "";
  const last = m?.[2] ?? "";
  if (m === null || (first === "" && last === "")) return { kind: "full" };
  const size = file.size;
  if (first === "") {
    // Suffix range: the last N bytes; N = 0 or an empty file cannot be satisfied.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return { kind: "full" }; // §14.1.1: invalid, so ignored
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

/** The range actually sent: as asked, or shifted by one byte when wrongContentRange is set. */
function shifted(start: number, end: number, file: OriginFile): { start: number; length: number } {
  if (!file.wrongContentRange) return { start, length: end - start + 1 };
  if (end + 1 < file.size) return { start: start + 1, length: end - start + 1 };
  if (start > 0) return { start: start - 1, length: end - start + 1 };
  // The whole file was asked: no same-length shift fits, so drop the first byte.
  return { start: start + 1, length: end - start };
}
