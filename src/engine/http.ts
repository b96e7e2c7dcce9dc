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
  const headers = new Headers();
  for (const [name, value] of options.headers) headers.append(name, value);
  headers.set("Accept-Encoding", "identity");
  if (options.range !== undefined) {
    headers.set("Range", `bytes=${options.range.start}-${options.range.end ?? ""}`);
    if (options.ifRange !== undefined) headers.set("If-Range", options.ifRange);
  }
  try {
    return await ctx.fetch(url, { headers, signal: options.signal, redirect: "follow", decompress: false });
  } catch (error) {
    if (options.signal.aborted) throw options.signal.reason ?? error;
    throw new NetworkError(`GET ${url}: ${describeNetworkError(error)}`, { url, cause: error });
  }
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
