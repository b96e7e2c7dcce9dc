// A raw-TCP origin (node:net) for answers no well-behaved HTTP server sends: cut bodies, resets, silent
// sockets, malformed heads. Each connection's first request head is parsed just enough to record it and hand
// it to the test's script, which then writes whatever bytes it likes.
import { createServer, type Server, type Socket } from "node:net";

/** One request head as received: method, target, and the header lines (names lower-cased). */
export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: ReadonlyMap<string, string>;
}

/** What a script does with one request: write to the socket, end it, reset it, or nothing at all. */
export type RawScript = (request: RawRequest, socket: Socket) => void;

/** A running raw origin on 127.0.0.1. */
export interface RawOrigin {
  readonly port: number;
  /** `http://127.0.0.1:PORT` + path. */
  url(path: string): string;
  /** Every request head received, in order. */
  readonly requests: RawRequest[];
  /** Closes the listener and destroys every open connection. */
  close(): Promise<void>;
}

/** Starts a raw origin on a free loopback port; `script` answers every request. */
export async function startRawOrigin(script: RawScript): Promise<RawOrigin> {
  const requests: RawRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let head = "";
    const onData = (data: Buffer) => {
      head += data.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 64 << 10) socket.destroy();
        return;
      }
      socket.off("data", onData);
      const request = parseHead(head.slice(0, end));
      requests.push(request);
      script(request, socket);
    };
    socket.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function parseHead(text: string): RawRequest {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const [method = "", target = ""] = requestLine.split(" ");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { method, target, headers };
}

/** Parses `Range: bytes=A-B` (B optional) into inclusive offsets, or undefined. */
export function rangeOf(request: RawRequest, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
  if (m === null) return undefined;
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

/**
 * Answers like a plain correct server: 206 for a Range (with Content-Range and Content-Length), else 200 with
 * Content-Length; then closes the connection (no keep-alive, so every request is a new connection).
 */
export function serveBytes(request: RawRequest, socket: Socket, body: Uint8Array, extraHeaders = ""): void {
  const range = rangeOf(request, body.length);
  const slice = range === undefined ? body : body.subarray(range.start, range.end + 1);
  const status =
    range === undefined
      ? "200 OK"
      : `206 Partial Content\r\nContent-Range: bytes ${range.start}-${range.end}/${body.length}`;
  socket.write(
    `HTTP/1.1 ${status}\r\nContent-Length: ${slice.length}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n${extraHeaders}\r\n`,
  );
  socket.end(slice);
}
