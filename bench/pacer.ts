// node:http, not Bun.serve: Bun.serve (1.4.4) drops a handler-set Content-Length on streamed bodies
// (oven-sh/bun#10507), and the tools under test behave differently without it (see test/helpers/origin.ts).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** How the pacer treats the connections and requests of the next run. */
export interface PacerMode {
  /** Per-connection cap in bytes/s (shared by all requests on that connection); undefined = uncapped. */
  rateBytesPerSec?: number | undefined;
  /** Every `slowEvery`-th accepted connection (1-based: 4 → connections 4, 8, 12...) is slowed down. */
  slowEvery?: number | undefined;
  /** Divisor of the cap on slowed connections (8 → 1/8 of the cap). */
  slowFactor?: number | undefined;
  /** Strip Range and If-Range, answer 200 with the whole body and no Accept-Ranges. */
  ignoreRange?: boolean | undefined;
  /** Delay before each request is forwarded (so before its first byte), in ms. */
  latencyMs?: number | undefined;
  /** Cap of all connections together, bytes/s (a mirror's total; the mirrors scenario); undefined = none. */
  totalRateBytesPerSec?: number | undefined;
}

/** One accepted client connection, as the pacer saw it during a run. */
export interface PacedConnection {
  /** 1-based accept order within the run. */
  readonly index: number;
  /** Cap in bytes/s, or undefined when uncapped. */
  readonly capBytesPerSec: number | undefined;
  /** Requests answered on it. */
  requests: number;
  /** Body bytes handed to the socket. */
  bytes: number;
  /**
   * performance.now() (ms) when the first body part started on its way (before its pacing wait) and when the
   * last one was handed to the socket; undefined before the first. So [first, last] is the time the connection
   * spent carrying body: bytes / cap for a connection kept busy at its cap.
   */
  firstByteAt: number | undefined;
  lastByteAt: number | undefined;
  /** Whether the client side is still open. */
  open: boolean;
}

/** A pacing reverse proxy on 127.0.0.1 in front of one upstream (nginx). */
export interface Pacer {
  readonly port: number;
  /** URL of `path` through the pacer. */
  url(path: string): string;
  /** Sets the mode for connections accepted from now on. */
  configure(mode: PacerMode): void;
  /** Starts a new run: connection numbering restarts at 1 and the returned list collects this run only. */
  reset(): PacedConnection[];
  /** Resolves when every connection of the current run is closed, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** How far a connection's pacing clock may lag behind now and still be caught up, ms. */
const CATCH_UP_MS = 50;

// Headers that describe one hop, not the message (RFC 9110 §7.6.1); never forwarded.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/**
 * Starts the pacer. `upstream` is the origin base URL (`http://127.0.0.1:PORT`); each request is forwarded
 * with fetch, and its body is written to the client paced by the connection's token clock, with
 * back-pressure: the upstream is read only as fast as the client socket drains and the cap allows.
 */
export async function startPacer(upstream: string): Promise<Pacer> {
  let mode: PacerMode = {};
  let run: PacedConnection[] = [];
  const connOf = new WeakMap<Socket, { record: PacedConnection; due: number | undefined }>();
  /** The total cap's token clock, shared by every connection (see totalRateBytesPerSec). */
  let totalDue: number | undefined;
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket: Socket) => {
    const index = run.length + 1;
    const { rateBytesPerSec: rate, slowEvery, slowFactor } = mode;
    const slow = rate !== undefined && slowEvery !== undefined && index % slowEvery === 0;
    const record: PacedConnection = {
      index,
      capBytesPerSec: rate === undefined ? undefined : slow ? rate / (slowFactor ?? 8) : rate,
      requests: 0,
      bytes: 0,
      firstByteAt: undefined,
      lastByteAt: undefined,
      open: true,
    };
    run.push(record);
    connOf.set(socket, { record, due: undefined });
    socket.once("close", () => {
      record.open = false;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const conn = connOf.get(req.socket);
    if (conn === undefined) throw new Error("pacer: request on an unknown connection");
    conn.record.requests++;
    const { ignoreRange, latencyMs } = mode;
    const abort = new AbortController();
    res.once("close", () => abort.abort());
    if (latencyMs !== undefined && latencyMs > 0) await Bun.sleep(latencyMs);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      if (ignoreRange && (name === "range" || name === "if-range")) continue;
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const method = req.method ?? "GET";
    const answer = await fetch(`${upstream}${req.url ?? "/"}`, {
      method,
      headers,
      redirect: "manual",
      decompress: false,
      signal: abort.signal,
    });
    const out: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (HOP_BY_HOP.has(name)) return;
      if (ignoreRange && name === "accept-ranges") return;
      out[name] = value;
    });
    res.writeHead(answer.status, out);
    if (answer.body === null || method === "HEAD") {
      res.end();
      return;
    }
    const cap = conn.record.capBytesPerSec;
    const total = mode.totalRateBytesPerSec;
    // Paced bodies go out in ~20 ms quanta: fetch may hand over megabytes at once, which would be one lump.
    const slice =
      cap === undefined ? Number.POSITIVE_INFINITY : Math.min(256 * 1024, Math.max(16 * 1024, cap / 50));
    for await (const chunk of answer.body) {
      for (let at = 0; at < chunk.byteLength; at += slice) {
        const part = slice >= chunk.byteLength ? chunk : chunk.subarray(at, at + slice);
        if (res.destroyed) return;
        // The link starts carrying the body now: a capped part waits below for its share of the clock, as a
        // real link would spend that time sending it. So "first byte" is not delayed by one pacing slice.
        conn.record.firstByteAt ??= performance.now();
        if (cap !== undefined) {
          // Token clock per connection: the part may leave once the connection's budget covers it. Timers
          // fire late, so a clock up to CATCH_UP_MS behind is kept (the next parts go at once and the average
          // holds the cap); one further behind (an idle keep-alive connection) restarts there, so no larger
          // burst is saved up.
          const now = performance.now();
          conn.due = Math.max(conn.due ?? now, now - CATCH_UP_MS) + (part.byteLength / cap) * 1000;
          // A total cap: the part also takes its place on the shared clock, in the order parts arrive.
          if (total !== undefined)
            totalDue = Math.max(totalDue ?? now, now - CATCH_UP_MS) + (part.byteLength / total) * 1000;
          const due = Math.max(conn.due, totalDue ?? 0);
          conn.due = due;
          if (due - now > 1) await Bun.sleep(due - now);
          if (res.destroyed) return;
        }
        const record = conn.record;
        record.bytes += part.byteLength;
        record.lastByteAt = performance.now();
        if (!res.write(part)) await drained(res);
      }
    }
    res.end();
  }

  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path.startsWith("/") ? path : `/${path}`}`,
    configure(next) {
      mode = { ...next };
    },
    reset() {
      run = [];
      return run;
    },
    async settle(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      const current = run;
      while (current.some((c) => c.open) && performance.now() < deadline) await Bun.sleep(10);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves on "drain" or "close", removing both listeners (events.once would leave one per write). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
