import type { Context } from "../context.ts";
import { HttpStatusError } from "../errors.ts";
import { dispositionFileName } from "./content-disposition-name.ts";
import { discardBody, httpGet } from "./http.ts";
import type { RemoteFile } from "./remote-file.ts";
import { parseContentRange } from "./response-check.ts";

/** What a probe returns: the facts, and the open 200 body when the server ignored Range. */
export interface ProbeResult {
  readonly remote: RemoteFile;
  /**
   * The whole-file response of a server that ignored `Range: bytes=0-0`. Its body is the download itself,
   * so a single-stream download consumes it instead of asking a second time.
   */
  readonly fullResponse: Response | undefined;
}

/** What the probe sends and how long it waits. */
export interface ProbeOptions {
  readonly headers: readonly (readonly [string, string])[];
  /** Origin the credentials among `headers` were given for (see `GetOptions.credentialOrigin`). */
  readonly credentialOrigin: string;
  /** Longest wait (ms) for the response head: the stall timeout. */
  readonly headTimeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Probes with `GET` + `Range: bytes=0-0` (HEAD is unreliable on real servers): size from Content-Range,
 * Range support from the 206, validators, the final URL after redirects and a Content-Disposition name.
 * Statuses >= 400 become `HttpStatusError` naming status and URL.
 */
export async function probe(ctx: Context, url: string, options: ProbeOptions): Promise<ProbeResult> {
  const response = await httpGet(ctx, url, {
    range: { start: 0, end: 0 },
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
  };
  if (response.status === 206) {
    // Only the headers matter here.
    await discardBody(response);
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
    return {
      remote: { ...common, totalBytes: total, acceptsRanges: total !== undefined },
      fullResponse: undefined,
    };
  }
  if (response.status === 416) {
    // A zero-byte file cannot satisfy bytes=0-0; servers say `bytes */0` (RFC 9110 §15.5.17).
    await discardBody(response);
    const range = parseContentRange(response.headers.get("content-range"));
    if (range !== undefined && "unsatisfiedTotal" in range && range.unsatisfiedTotal === 0) {
      return { remote: { ...common, totalBytes: 0, acceptsRanges: true }, fullResponse: undefined };
    }
  }
  if (response.status === 200) {
    const length = response.headers.get("content-length");
    const total = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
    return { remote: { ...common, totalBytes: total, acceptsRanges: false }, fullResponse: response };
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
