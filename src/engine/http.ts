import type { Context } from "../context.ts";
import { HttpStatusError, NetworkError } from "../errors.ts";
import { isCredentialHeader } from "./credential-headers.ts";
import { toNetworkError } from "./network-failure.ts";
import { assertFetchableUrl, isFetchable } from "./url-scheme.ts";

/** Options of one GET issued by the engine. */
export interface GetOptions {
  /** Inclusive byte range to ask for; `end` undefined means "to the end". */
  readonly range?: { readonly start: number; readonly end: number | undefined };
  /** Validator sent as If-Range so a changed file answers 200 instead of mixing versions (RFC 9110 §13.1.5). */
  readonly ifRange?: string | undefined;
  /** Extra request headers from `-H`. */
  readonly headers: readonly (readonly [string, string])[];
  /**
   * Origin (`URL.origin`) the credentials among `headers` and in the URL were given for. They are sent only
   * to that origin: a redirect elsewhere, or from https to http, drops them (as curl and the fetch standard
   * do). Undefined: the origin of `url`.
   */
  readonly credentialOrigin?: string | undefined;
  /** Longest wait (ms) for the response head, per hop; past it the GET fails as a `timeout`. */
  readonly headTimeoutMs?: number | undefined;
  readonly signal: AbortSignal;
}

/** Redirects followed for one GET, all hops together (the fetch standard's limit). */
export const MAX_REDIRECTS = 20;

/**
 * Issues one GET through the injected fetch, following redirects itself so credentials never leave their
 * origin. Always asks for identity encoding and disables Bun's silent decompression: otherwise byte counts
 * and ranges would stop describing the file. Network failures become a typed `NetworkError` (see
 * network-failure.ts), a redirect loop an `HttpStatusError`; an abort of `options.signal` is rethrown as its
 * reason so callers can tell pause, stall or steal from a failure. The returned response's `url` is the
 * URL that answered.
 */
export async function httpGet(ctx: Context, url: string, options: GetOptions): Promise<Response> {
  const credentialOrigin = options.credentialOrigin ?? assertFetchableUrl(url, "GET").origin;
  let target = url;
  for (let hop = 0; ; hop++) {
    const headers = requestHeaders(options, new URL(target).origin === credentialOrigin);
    const response = await fetchHead(ctx, target, headers, options);
    const location = response.headers.get("location");
    if (!isRedirect(response.status) || location === null) {
      // Bun leaves `url` empty on a Response it did not fetch itself (tests inject such fetches).
      if (response.url === "" || response.url === target) return response;
      return Object.defineProperty(response, "url", { value: target });
    }
    await discardBody(response);
    if (hop >= MAX_REDIRECTS) {
      throw new HttpStatusError(`GET ${url}: more than ${MAX_REDIRECTS} redirects (last to ${location})`, {
        url,
        status: response.status,
      });
    }
    const next = URL.parse(location, target);
    if (next === null || !isFetchable(next)) {
      throw new NetworkError(`GET ${target}: redirect to an unsupported URL ${JSON.stringify(location)}`, {
        reason: "protocol",
        url: target,
      });
    }
    target = next.href;
  }
}

/** One hop: fetch with redirects off, the head bounded by `headTimeoutMs`. */
async function fetchHead(
  ctx: Context,
  url: string,
  headers: Headers,
  options: GetOptions,
): Promise<Response> {
  // Every request dlm makes passes here, whatever brought its URL (Add, Update, a resumed state.json).
  assertFetchableUrl(url, "GET");
  const head = new AbortController();
  const timer =
    options.headTimeoutMs === undefined
      ? undefined
      : setTimeout(() => head.abort(new HeadTimeout(options.headTimeoutMs ?? 0)), options.headTimeoutMs);
  try {
    return await ctx.fetch(url, {
      headers,
      signal: AbortSignal.any([options.signal, head.signal]),
      redirect: "manual",
      decompress: false,
    });
  } catch (error) {
    if (options.signal.aborted) throw options.signal.reason ?? error;
    if (head.signal.aborted) {
      throw new NetworkError(`GET ${url}: no response within ${options.headTimeoutMs} ms`, {
        reason: "timeout",
        url,
        cause: error,
      });
    }
    throw toNetworkError(error, "GET", url);
  } finally {
    clearTimeout(timer);
  }
}

class HeadTimeout extends Error {
  constructor(ms: number) {
    super(`no response head within ${ms} ms`);
    this.name = "HeadTimeout";
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * The headers of an engine GET: the user's (credentials only when `withCredentials`), identity encoding,
 * and the range with its validator.
 */
export function requestHeaders(options: Omit<GetOptions, "signal">, withCredentials = true): Headers {
  const headers = new Headers();
  for (const [name, value] of options.headers) {
    // Credentials are sent only to the origin they were given for.
    if (!withCredentials && isCredentialHeader(name)) continue;
    headers.append(name, value);
  }
  headers.set("Accept-Encoding", "identity");
  if (options.range !== undefined) {
    headers.set("Range", `bytes=${options.range.start}-${options.range.end ?? ""}`);
    if (options.ifRange !== undefined) headers.set("If-Range", options.ifRange);
  }
  return headers;
}

/**
 * What a body consumer says after each chunk: go on, drop the rest, or wait for this promise first (one that
 * settles to "stop" drops the rest: a verdict known only after the wait).
 */
export type ChunkVerdict = "more" | "stop" | Promise<unknown>;

/**
 * Reads a response body (a Web `ReadableStream`) chunk by chunk into `onChunk`, in order; a chunk is only
 * valid during the call. Resolves "ended" when the stream ends, "stopped" after `onChunk` said "stop" (the
 * rest is cancelled). Rejects with `signal`'s reason once it aborts, even for a body fetched under another
 * signal (the probe's reused 200 body); a failing stream rejects with a typed `NetworkError` (a body cut
 * before its Content-Length or chunked framing ended is `reset`: Bun's fetch reports ECONNRESET).
 */
export async function readBody(
  response: Response,
  onChunk: (chunk: Uint8Array) => ChunkVerdict,
  signal: AbortSignal,
): Promise<"ended" | "stopped"> {
  const body = response.body;
  if (body === null) return "ended";
  if (signal.aborted) {
    await discardBody(response);
    throw signal.reason;
  }
  const reader = body.getReader();
  // Cancelling the reader settles a pending read() with done: the loop then sees the abort. Cheaper than
  // racing every read against the signal.
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => undefined);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw toNetworkError(error, "GET", response.url);
      }
      if (signal.aborted) throw signal.reason;
      if (next.done) return "ended";
      const verdict = onChunk(next.value);
      if (verdict === "more") continue;
      if (verdict === "stop" || (await verdict) === "stop") {
        await reader.cancel().catch(() => undefined);
        return "stopped";
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

/**
 * Drops a body nobody will read. Never rejects: cancelling a body the server already cut short rejects with
 * a raw ECONNRESET TypeError in Bun 1.4.4, which is no failure of the caller's.
 */
export async function discardBody(response: Response): Promise<void> {
  if (response.body === null || response.bodyUsed) return;
  await response.body.cancel().catch(() => undefined);
}
