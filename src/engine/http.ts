import type { Context } from "../context.ts";
import { NetworkError } from "../errors.ts";

/** Options of one GET issued by the engine. */
export interface GetOptions {
  /** Inclusive byte range to ask for; `end` undefined means "to the end". */
  readonly range?: { readonly start: number; readonly end: number | undefined };
  /** Validator sent as If-Range so a changed file answers 200 instead of mixing versions (RFC 9110 §13.1.5). */
  readonly ifRange?: string | undefined;
  /** Extra request headers from `-H`. */
  readonly headers: readonly (readonly [string, string])[];
  readonly signal: AbortSignal;
}

/**
 * Issues one GET through the injected fetch. Always asks for identity encoding and disables Bun's silent
 * decompression: otherwise byte counts and ranges would stop describing the file. Network-level failures
 * (refused, reset, DNS, TLS) become `NetworkError`; an abort is rethrown untouched so callers can tell
 * pause/stall/steal from a failure.
 */
export async function httpGet(ctx: Context, url: string, options: GetOptions): Promise<Response> {
  const headers = requestHeaders(options);
  try {
    return await ctx.fetch(url, { headers, signal: options.signal, redirect: "follow", decompress: false });
  } catch (error) {
    if (options.signal.aborted) throw options.signal.reason ?? error;
    throw new NetworkError(`GET ${url}: ${describeNetworkError(error)}`, { url, cause: error });
  }
}

/** The headers of an engine GET: the user's, identity encoding, and the range with its validator. */
export function requestHeaders(options: Omit<GetOptions, "signal">): Headers {
  const headers = new Headers();
  for (const [name, value] of options.headers) headers.append(name, value);
  headers.set("Accept-Encoding", "identity");
  if (options.range !== undefined) {
    headers.set("Range", `bytes=${options.range.start}-${options.range.end ?? ""}`);
    if (options.ifRange !== undefined) headers.set("If-Range", options.ifRange);
  }
  return headers;
}

/** What a body consumer says after each chunk: go on, drop the rest, or wait for this promise first. */
export type ChunkVerdict = "more" | "stop" | Promise<void>;

/**
 * A response whose body is pushed to a consumer, chunk by chunk: the shape both of dlm's HTTP clients give
 * (fetch through `streamFetchResponse`, the lean HTTP/1.1 client in http1.ts natively).
 */
export interface StreamedResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  /** The URL that answered (after redirects). */
  readonly url: string;
  /**
   * Feeds every body byte to `onChunk`, in order; a chunk is only valid during the call. Resolves "ended"
   * when the body is complete, "stopped" after `onChunk` said "stop"; rejects when the connection fails or
   * `onChunk` throws, and with the signal's reason on abort. Call once.
   */
  pipe(onChunk: (chunk: Uint8Array) => ChunkVerdict): Promise<"ended" | "stopped">;
  /** Drops the body (the connection is not reused). */
  cancel(): void;
}

/** A fetch `Response` as a `StreamedResponse`. */
export function streamFetchResponse(response: Response): StreamedResponse {
  return {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    url: response.url,
    pipe: async (onChunk) => {
      if (response.body === null) return "ended";
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return "ended";
          const verdict = onChunk(value);
          if (verdict === "stop") {
            await reader.cancel().catch(() => undefined);
            return "stopped";
          }
          if (verdict !== "more") await verdict;
        }
      } finally {
        reader.releaseLock();
      }
    },
    cancel: () => {
      void response.body?.cancel().catch(() => undefined);
    },
  };
}

/** A short human reason for a fetch failure (Bun puts the errno code on `code`). */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    if (code === "ConnectionRefused" || code === "ECONNREFUSED") return "connection refused";
    if (code === "ConnectionReset" || code === "ECONNRESET") return "connection reset";
    if (typeof code === "string" && code !== "") return `${error.message} (${code})`;
    return error.message;
  }
  return String(error);
}
