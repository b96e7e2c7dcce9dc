import type { Context } from "../context.ts";
import { HttpStatusError } from "../errors.ts";
import { dispositionFileName } from "./content-disposition-name.ts";
import { digestsFromHeaders } from "./digest-headers.ts";
import { discardBody, httpGet } from "./http.ts";
import { type DuplicateLink, duplicateLinks } from "./link-header.ts";
import type { RemoteFile } from "./remote-file.ts";
import { type ContentRange, parseContentRange } from "./response-check.ts";

/** What a probe returns: the facts, and an open body that the download can consume as its first bytes. */
export interface ProbeResult {
  readonly remote: RemoteFile;
  /**
   * The whole-file response of a server that ignored the Range header. Its body is the download itself,
   * so a single-stream download consumes it instead of asking a second time.
   */
  readonly fullResponse: Response | undefined;
  /**
   * The 206 answer carrying bytes [0, `last`] of the file, when more than one byte was asked for and the
   * server sent exactly the range asked (or the whole file, when it is shorter): the download's first
   * segment, so a small file costs one request instead of a probe and a fetch.
   */
  readonly headResponse: { readonly response: Response; readonly last: number } | undefined;
  /** Mirrors the answer named in `Link: <URL>; rel=duplicate` headers (RFC 6249), in header order. */
  readonly duplicates?: readonly DuplicateLink[];
}

/** What the probe sends and how long it waits. */
export interface ProbeOptions {
  readonly headers: readonly (readonly [string, string])[];
  /** Origin the credentials among `headers` were given for (see `GetOptions.credentialOrigin`). */
  readonly credentialOrigin: string;
  /** Longest wait (ms) for the response head: the stall timeout. */
  readonly headTimeoutMs: number;
  readonly signal: AbortSignal;
  /**
   * How many of the file's first bytes to ask for: 1 (a pure probe), a count whose answer becomes the first
   * segment, or "all" (`Range: bytes=0-`, the whole file over one connection). Default 1.
   */
  readonly firstBytes?: number | "all";
}

/**
 * Probes with `GET` + `Range: bytes=0-N` (HEAD is unreliable on real servers): size from Content-Range,
 * Range support from the 206, validators, the final URL after redirects and a Content-Disposition name.
 * Statuses >= 400 become `HttpStatusError` naming status and URL.
 */
export async function probe(ctx: Context, url: string, options: ProbeOptions): Promise<ProbeResult> {
  try {
    return await probeOnce(ctx, url, options);
  } catch (error) {
    // Some servers answer 400 or 416 to a Range that runs past the end of the file, though RFC 9110 §14.1.2
    // says such a range is satisfiable (the end is clamped to the size); they serve `bytes=0-0` fine. Ask
    // again for one byte: the size comes from its Content-Range.
    const longRange =
      options.firstBytes !== undefined && options.firstBytes !== "all" && options.firstBytes > 1;
    if (longRange && error instanceof HttpStatusError && (error.status === 400 || error.status === 416)) {
      return probeOnce(ctx, url, { ...options, firstBytes: 1 });
    }
    throw error;
  }
}

async function probeOnce(ctx: Context, url: string, options: ProbeOptions): Promise<ProbeResult> {
  const firstBytes = options.firstBytes ?? 1;
  const askedEnd = firstBytes === "all" ? undefined : Math.max(1, firstBytes) - 1;
  const response = await httpGet(ctx, url, {
    range: { start: 0, end: askedEnd },
    headers: options.headers,
    credentialOrigin: options.credentialOrigin,
    headTimeoutMs: options.headTimeoutMs,
    signal: options.signal,
  });
  const finalUrl = response.url === "" ? url : response.url;
  const common = {
    url: finalUrl,
    etag: response.headers.get("etag") ?? undefined,
    lastModified: response.headers.get("last-modified") ?? undefined,
    dispositionName: dispositionFileName(response.headers.get("content-disposition")),
    digests: digestsFromHeaders(response.headers),
  };
  const duplicates = duplicateLinks(response.headers.get("link"), finalUrl);
  if (response.status === 206) {
    const contentRange = response.headers.get("content-range");
    const range = parseContentRange(contentRange);
    // A total past 2^53 fails to parse; pass it on as the (inexact) number so prepare refuses it clearly
    // instead of falling back to one stream of a file no offset can address.
    const huge = /\/(\d{16,})$/.exec(contentRange?.trim() ?? "")?.[1];
    const total =
      range !== undefined && "total" in range
        ? range.total
        : huge !== undefined && !Number.isSafeInteger(Number(huge))
          ? Number(huge)
          : undefined;
    const head = firstSegment(range, total, askedEnd);
    // Only the headers matter when the body is not the first segment.
    if (head === undefined) await discardBody(response);
    return {
      remote: { ...common, totalBytes: total, acceptsRanges: total !== undefined },
      fullResponse: undefined,
      headResponse: head === undefined ? undefined : { response, last: head },
      duplicates,
    };
  }
  if (response.status === 416) {
    // A zero-byte file cannot satisfy bytes=0-0; servers say `bytes */0` (RFC 9110 §15.5.17).
    await discardBody(response);
    const range = parseContentRange(response.headers.get("content-range"));
    if (range !== undefined && "unsatisfiedTotal" in range && range.unsatisfiedTotal === 0) {
      return {
        remote: { ...common, totalBytes: 0, acceptsRanges: true },
        fullResponse: undefined,
        headResponse: undefined,
        duplicates,
      };
    }
  }
  if (response.status === 200) {
    const length = response.headers.get("content-length");
    const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
    return {
      remote: { ...common, totalBytes: total, acceptsRanges: false },
      fullResponse: response,
      headResponse: undefined,
      duplicates,
    };
  }
  await discardBody(response);
  throw new HttpStatusError(
    `HTTP ${response.status} ${response.statusText} for ${finalUrl}`.replace("  ", " "),
    {
      url: finalUrl,
      status: response.status,
      // withRetries (retry-loop.ts) honours the server's wait (RFC 9110 §10.2.3).
      retryAfter: response.headers.get("retry-after") ?? undefined,
    },
  );
}

/**
 * The last byte of the first segment a 206 answer to the probe carries, or undefined when its body is not
 * worth keeping: only one byte was asked for, the size is unknown, or the server sent another range than
 * the one asked (a range the download did not ask for is never trusted as its data). An answer that starts at 0
 * and runs past the asked end (a superset) counts: the worker keeps the asked bytes and closes the rest.
 */
function firstSegment(
  range: ContentRange | undefined,
  total: number | undefined,
  askedEnd: number | undefined,
): number | undefined {
  if (askedEnd === 0 || total === undefined || range === undefined || !("start" in range)) return undefined;
  const expectedEnd = Math.min(askedEnd ?? total - 1, total - 1);
  return range.start === 0 && range.end >= expectedEnd && range.total === total ? expectedEnd : undefined;
}
