import type { Socket } from "bun";
import { NetworkError } from "../errors.ts";
import { type ChunkVerdict, describeNetworkError, type StreamedResponse } from "./http.ts";

/**
 * A lean HTTP/1.1 client for the bulk of a download: the GETs of `http:` and `https:` URLs. Bun's fetch hands
 * each body chunk through its HTTP thread, two buffer copies and a stream promise; on a fast link that is most
 * of dlm's CPU (loopback, 1 GiB over 8 connections: 1.9 CPU-s against 1.2 here over http, 4.7 against 3.9
 * over https). Here the socket's data callback
 * passes each chunk straight to the consumer, which writes it to the file before returning, so reading and
 * writing share one copy and back-pressure is the socket itself.
 *
 * It speaks just what a GET needs: Content-Length, chunked and close-delimited bodies, keep-alive reuse of an
 * idle connection per origin, and redirects. Proxies and credentials in the URL stay on fetch: see
 * `leanClientFor`.
 */

/** Longest response head accepted; real servers send a few hundred bytes. */
const MAX_HEAD_BYTES = 64 << 10;
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * https uses Bun's TLS sockets, which check the certificate chain and the host name as fetch does (same
 * roots, NODE_EXTRA_CA_CERTS honoured; checked with a self-signed and a wrong-name certificate).
 */
const LEAN_PROTOCOLS = new Set(["http:", "https:"]);

/** Which client a download's range requests use; undefined means fetch. */
export function leanClientFor(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
): Http1Client | undefined {
  if (env["DLM_HTTP_CLIENT"] === "fetch") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (!LEAN_PROTOCOLS.has(parsed.protocol) || parsed.username !== "" || parsed.password !== "")
    return undefined;
  // Bun's fetch honours these; a lean socket would silently go around the proxy.
  const proxies =
    parsed.protocol === "https:" ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"];
  for (const name of [...proxies, "all_proxy", "ALL_PROXY"]) {
    if ((env[name] ?? "") !== "") return undefined;
  }
  return new Http1Client();
}

/** A pool of idle keep-alive connections by origin, and the GETs that use them. */
export class Http1Client {
  readonly #idle = new Map<string, Connection[]>();

  /**
   * Sends `GET url` with `headers` (Host, User-Agent and Accept are added when missing) and resolves with
   * the response head once it arrived, following redirects between http and https URLs (a redirect to
   * another scheme is returned as it is). A reused connection that turns out to be closed by the server
   * before answering is replaced once, transparently (the GET is idempotent).
   */
  async get(url: string, headers: Headers, signal: AbortSignal): Promise<StreamedResponse> {
    let target = new URL(url);
    for (let hop = 0; ; hop++) {
      const response = await this.#once(target, headers, signal);
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || location === null || hop >= MAX_REDIRECTS) return response;
      const next = new URL(location, target);
      // Elsewhere (ftp:, a data: URL...): the caller sees the redirect and may ask fetch instead.
      if (!LEAN_PROTOCOLS.has(next.protocol)) return response;
      response.cancel();
      target = next;
    }
  }

  /** Closes every idle connection (the download is over). */
  close(): void {
    for (const list of this.#idle.values()) for (const connection of list) connection.destroy();
    this.#idle.clear();
  }

  async #once(url: URL, headers: Headers, signal: AbortSignal): Promise<StreamedResponse> {
    const key = `${url.protocol}//${url.host}`;
    const reused = this.#idle.get(key)?.pop();
    if (reused !== undefined) {
      try {
        return await reused.exchange(url, headers, signal, (c) => this.#release(key, c));
      } catch (error) {
        if (signal.aborted || !(error instanceof StaleConnection)) throw error;
      }
    }
    const connection = await Connection.open(url, signal);
    return connection.exchange(url, headers, signal, (c) => this.#release(key, c));
  }

  #release(key: string, connection: Connection): void {
    const list = this.#idle.get(key) ?? [];
    list.push(connection);
    this.#idle.set(key, list);
  }
}

/** A reused connection closed before any byte of the answer: safe to retry on a new one. */
class StaleConnection extends Error {}

export type Framing =
  | { readonly kind: "length"; remaining: number }
  | { readonly kind: "chunked"; state: ChunkedState }
  | { readonly kind: "close" }
  | { readonly kind: "none" };

export interface ChunkedState {
  /** Bytes left in the current chunk's data. */
  remaining: number;
  /** Expecting: a size line, the CRLF after data, or trailers up to the empty line. */
  phase: "size" | "data" | "data-end" | "trailers";
  /** Partial line carried across packets. */
  line: string;
}

/** One TCP connection carrying one exchange at a time. */
class Connection {
  readonly #socket: Socket<undefined>;
  #onData: ((data: Uint8Array) => void) | undefined;
  #onEnd: ((error: Error | undefined) => void) | undefined;
  #closed = false;
  #closeError: Error | undefined;

  /** It carried an exchange before: a close before any answer then means "stale", not "failed". */
  #reused = false;
  /** Request bytes the socket did not take yet (sent on drain). */
  #unsent: Uint8Array | undefined;

  private constructor(socket: Socket<undefined>, hooks: ConnectionHooks) {
    this.#socket = socket;
    hooks.drain = () => this.#flushUnsent();
    hooks.data = (data) => this.#onData?.(data);
    hooks.end = (error) => {
      this.#closed = true;
      this.#closeError ??= error;
      this.#onEnd?.(error);
    };
  }

  static async open(url: URL, signal: AbortSignal): Promise<Connection> {
    const hooks: ConnectionHooks = {};
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const secure = url.protocol === "https:";
    const port = url.port !== "" ? Number(url.port) : secure ? 443 : 80;
    if (signal.aborted) throw signal.reason;
    const connecting = Bun.connect({
      hostname,
      port,
      tls: secure,
      socket: {
        // A refused certificate only closes the socket; this is where its reason is known.
        handshake: (_s, success, authorizationError) => {
          if (!success || authorizationError !== null) {
            const reason = authorizationError?.message ?? "handshake failed";
            const code = (authorizationError as (Error & { code?: string }) | null)?.code;
            hooks.end?.(Object.assign(new Error(`TLS: ${reason}`), { code }));
          }
        },
        data: (_s, data) => hooks.data?.(data),
        drain: () => hooks.drain?.(),
        close: (_s, error) => hooks.end?.(error),
        end: () => hooks.end?.(undefined),
        error: (_s, error) => hooks.end?.(error),
        connectError: () => undefined,
      },
    });
    // A connect to a host that never answers lasts minutes; a stall, pause or cancel must not wait for it.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    let socket: Socket<undefined>;
    try {
      socket = await Promise.race([connecting, aborted]);
    } catch (error) {
      connecting.then((late) => late.terminate()).catch(() => undefined);
      if (signal.aborted) throw signal.reason;
      throw new NetworkError(`GET ${url.href}: ${describeNetworkError(error)}`, {
        url: url.href,
        cause: error,
      });
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
    return new Connection(socket, hooks);
  }

  /** Writes the request; what the socket cannot take now goes out on drain. */
  #send(bytes: Uint8Array): void {
    this.#unsent = bytes;
    this.#flushUnsent();
  }

  #flushUnsent(): void {
    const pending = this.#unsent;
    if (pending === undefined || this.#closed) return;
    const written = this.#socket.write(pending);
    this.#unsent = written >= pending.length ? undefined : pending.subarray(Math.max(0, written));
  }

  destroy(): void {
    this.#closed = true;
    this.#onData = undefined;
    this.#onEnd = undefined;
    this.#socket.terminate();
  }

  /** Sends the request and resolves with the response head; `release` gets the connection back if reusable. */
  exchange(
    url: URL,
    headers: Headers,
    signal: AbortSignal,
    release: (connection: Connection) => void,
  ): Promise<StreamedResponse> {
    const href = url.href;
    const fail = (reason: string, cause?: unknown) =>
      new NetworkError(`GET ${href}: ${reason}`, { url: href, cause });
    return new Promise<StreamedResponse>((resolveHead, rejectHead) => {
      let head: Uint8Array = new Uint8Array(0);
      let gotAnyByte = false;
      let framing: Framing | undefined;
      let keepAlive = true;
      /** The body's last byte was received. */
      let bodyDone = false;
      /** Body bytes not yet handed over (they came before `pipe`, or while the consumer was busy). */
      const queue: Uint8Array[] = [];
      let consumer: ((chunk: Uint8Array) => ChunkVerdict) | undefined;
      let busy: Promise<void> | undefined;
      let finishBody: ((outcome: "ended" | "stopped") => void) | undefined;
      let failBody: ((error: unknown) => void) | undefined;
      let bodyError: unknown;
      let settled = false;

      const cleanup = () => {
        settled = true;
        signal.removeEventListener("abort", onAbort);
        this.#onData = undefined;
        this.#onEnd = undefined;
      };
      const abandon = (error: unknown) => {
        if (settled) return;
        cleanup();
        this.destroy();
        if (framing === undefined) rejectHead(error);
        else if (failBody !== undefined) failBody(error);
        else bodyError = error;
      };
      const stop = () => {
        if (settled) return;
        cleanup();
        this.destroy();
        finishBody?.("stopped");
      };
      const onAbort = () => abandon(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });

      /** Resolves the body once every byte was received and consumed. */
      const maybeFinish = () => {
        if (settled || !bodyDone || busy !== undefined || queue.length > 0 || finishBody === undefined)
          return;
        cleanup();
        this.#reused = true;
        if (keepAlive && !this.#closed) release(this);
        else this.destroy();
        finishBody("ended");
      };
      /** Hands queued bytes to the consumer until it is busy or stops. */
      const drain = () => {
        while (!settled && consumer !== undefined && busy === undefined && queue.length > 0) {
          let verdict: ChunkVerdict;
          try {
            verdict = consumer(queue.shift() as Uint8Array);
          } catch (error) {
            // A failed write (full disk...) must end this exchange, not escape from the socket's callback.
            return abandon(error);
          }
          if (verdict === "stop") return stop();
          if (verdict !== "more") {
            this.#socket.pause();
            busy = verdict.then(
              () => {
                busy = undefined;
                if (settled) return;
                this.#socket.resume();
                drain();
                maybeFinish();
              },
              (error: unknown) => abandon(error),
            );
          }
        }
      };
      const deliver = (bytes: Uint8Array): void => {
        if (bytes.length === 0 || settled) return;
        if (consumer !== undefined && busy === undefined && queue.length === 0) {
          // The hot path: straight to the consumer, no copy.
          queue.push(bytes);
          drain();
        } else {
          // The socket's buffer is only ours during this callback.
          queue.push(bytes.slice());
        }
      };
      const endOfBody = () => {
        bodyDone = true;
        maybeFinish();
      };

      /** Splits incoming body bytes by the framing. */
      const body = (data: Uint8Array): void => {
        if (framing === undefined || settled) return;
        if (framing.kind === "length") {
          const take = Math.min(framing.remaining, data.length);
          framing.remaining -= take;
          deliver(take === data.length ? data : data.subarray(0, take));
          if (framing.remaining === 0) endOfBody();
        } else if (framing.kind === "close") {
          deliver(data);
        } else if (framing.kind === "chunked") {
          const error = dechunk(framing.state, data, deliver, endOfBody);
          if (error !== undefined) abandon(fail(error));
        }
      };

      const response = (status: number, statusText: string, responseHeaders: Headers): StreamedResponse => ({
        status,
        statusText,
        headers: responseHeaders,
        url: href,
        pipe: (onChunk) =>
          new Promise<"ended" | "stopped">((resolve, reject) => {
            if (bodyError !== undefined) return reject(bodyError);
            finishBody = resolve;
            failBody = reject;
            consumer = onChunk;
            drain();
            maybeFinish();
          }),
        cancel: stop,
      });

      this.#onData = (data: Uint8Array) => {
        gotAnyByte = true;
        if (framing !== undefined) return body(data);
        head = head.length === 0 ? data.slice() : concat([head, data]);
        const end = indexOfHeadEnd(head);
        if (end < 0) {
          if (head.length > MAX_HEAD_BYTES)
            abandon(fail(`response head longer than ${MAX_HEAD_BYTES} bytes`));
          return;
        }
        const parsed = parseHead(new TextDecoder("latin1").decode(head.subarray(0, end)));
        if (typeof parsed === "string") return abandon(fail(parsed));
        const rest = head.subarray(end + 4);
        head = new Uint8Array(0);
        if (parsed.status >= 100 && parsed.status < 200) {
          // An interim answer (100 Continue...): the real head follows.
          return rest.length > 0 ? this.#onData?.(rest) : undefined;
        }
        const tokens = (parsed.headers.get("connection") ?? "")
          .toLowerCase()
          .split(",")
          .map((t) => t.trim());
        // HTTP/1.1 keeps the connection unless told otherwise; HTTP/1.0 only when asked to (RFC 9112 §9.3).
        keepAlive = parsed.version === "1.1" ? !tokens.includes("close") : tokens.includes("keep-alive");
        const framed = framingOf(parsed.status, parsed.headers);
        if (typeof framed === "string") return abandon(fail(framed));
        framing = framed;
        if (framing.kind === "close") keepAlive = false;
        resolveHead(response(parsed.status, parsed.statusText, parsed.headers));
        if (framing.kind === "none") endOfBody();
        else body(rest);
      };

      this.#onEnd = (error) => {
        if (settled) return;
        // Closed after the last byte (Connection: close) while the consumer still works: nothing is lost.
        if (bodyDone) {
          keepAlive = false;
          return;
        }
        if (framing?.kind === "close") {
          keepAlive = false;
          return endOfBody();
        }
        // A kept-alive connection the server closed meanwhile: the caller tries a new one.
        if (framing === undefined && !gotAnyByte && this.#reused) return abandon(new StaleConnection());
        if (error?.message.startsWith("TLS: ")) return abandon(fail(describeNetworkError(error), error));
        const where = framing === undefined ? "before the response head" : "before the body ended";
        const why = error === undefined ? "" : ` (${describeNetworkError(error)})`;
        abandon(fail(`connection closed ${where}${why}`, error));
      };

      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
      if (!headers.has("host")) lines.push(`Host: ${url.host}`);
      for (const [name, value] of headers) lines.push(`${name}: ${value}`);
      if (!headers.has("user-agent")) lines.push(`User-Agent: Bun/${Bun.version}`);
      if (!headers.has("accept")) lines.push("Accept: */*");
      this.#send(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
      // Already closed (by the server while idle, or a failed TLS handshake): the same path as a close now.
      if (this.#closed) this.#onEnd?.(this.#closeError);
    });
  }
}

interface ConnectionHooks {
  data?: (data: Uint8Array) => void;
  drain?: () => void;
  end?: (error: Error | undefined) => void;
}

/** Status line and headers of a response head (without the final CRLFCRLF), or why it is malformed. */
export function parseHead(
  text: string,
): { version: "1.0" | "1.1"; status: number; statusText: string; headers: Headers } | string {
  const lines = text.split("\r\n");
  const match = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (match === null) return `malformed status line ${JSON.stringify((lines[0] ?? "").slice(0, 80))}`;
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      return `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
    }
  }
  return {
    version: match[1] === "0" ? "1.0" : "1.1",
    status: Number(match[2]),
    statusText: match[3] ?? "",
    headers,
  };
}

/** How the body of a response to a GET is delimited (RFC 9112 §6.3), or why it cannot be read. */
export function framingOf(status: number, headers: Headers): Framing | string {
  if (status === 204 || status === 304) return { kind: "none" };
  const transfer = headers.get("transfer-encoding");
  if (transfer !== null) {
    const codings = transfer
      .toLowerCase()
      .split(",")
      .map((t) => t.trim());
    if (codings.at(-1) !== "chunked") return { kind: "close" };
    if (codings.length > 1) return `unsupported transfer-encoding ${JSON.stringify(transfer)}`;
    return { kind: "chunked", state: { remaining: 0, phase: "size", line: "" } };
  }
  const length = headers.get("content-length");
  if (length !== null) {
    // Repeated identical values arrive joined by ", " (RFC 9110 §8.6 allows them).
    const values = new Set(length.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || only === undefined || !/^\d+$/.test(only))
      return `invalid content-length ${JSON.stringify(length)}`;
    return { kind: "length", remaining: Number(only) };
  }
  return { kind: "close" };
}

/**
 * Decodes chunked transfer coding incrementally: data bytes go to `deliver`, `complete` runs after the last
 * chunk and its trailers. Returns a reason when the coding is malformed.
 */
export function dechunk(
  state: ChunkedState,
  data: Uint8Array,
  deliver: (bytes: Uint8Array) => void,
  complete: () => void,
): string | undefined {
  let at = 0;
  while (at < data.length) {
    if (state.phase !== "data") {
      const newline = data.indexOf(0x0a, at);
      const piece = new TextDecoder("latin1").decode(data.subarray(at, newline < 0 ? data.length : newline));
      state.line += piece;
      if (state.line.length > 4096) return "chunk header line too long";
      if (newline < 0) return undefined;
      at = newline + 1;
      const line = state.line.replace(/\r$/, "");
      state.line = "";
      if (state.phase === "data-end") {
        if (line !== "") return "missing CRLF after chunk data";
        state.phase = "size";
      } else if (state.phase === "trailers") {
        if (line === "") {
          complete();
          return undefined;
        }
      } else {
        const size = /^([0-9a-fA-F]+)\s*(;.*)?$/.exec(line);
        if (size === null || (size[1] ?? "").length > 12)
          return `malformed chunk size ${JSON.stringify(line.slice(0, 40))}`;
        state.remaining = Number.parseInt(size[1] ?? "", 16);
        state.phase = state.remaining === 0 ? "trailers" : "data";
      }
      continue;
    }
    const take = Math.min(state.remaining, data.length - at);
    deliver(data.subarray(at, at + take));
    state.remaining -= take;
    at += take;
    if (state.remaining === 0) state.phase = "data-end";
  }
  return undefined;
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = bytes.indexOf(0x0d); i >= 0 && i + 3 < bytes.length; i = bytes.indexOf(0x0d, i + 1)) {
    if (bytes[i + 1] === 0x0a && bytes[i + 2] === 0x0d && bytes[i + 3] === 0x0a) return i;
  }
  return -1;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
