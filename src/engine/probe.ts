import type { Context } from "../context.ts";
import { HttpStatusError } from "../errors.ts";
import { dispositionFileName } from "./content-disposition-name.ts";
import { httpGet, requestHeaders, type StreamedResponse, streamFetchResponse } from "./http.ts";
import { leanClientFor } from "./http1.ts";
import type { RemoteFile } from "./remote-file.ts";
import { parseContentRange } from "./response-check.ts";

/** What a probe returns: the facts, and the open 200 body when the server ignored Range. */
export interface ProbeResult {
  readonly remote: RemoteFile;
  /**
   * The whole-file response of a server that ignored `Range: bytes=0-0`. Its body is the download itself,
   * so a single-stream download consumes it instead of asking a second time.
   */
  readonly fullResponse: StreamedResponse | undefined;
}

/**
 * Probes with `GET` + `Range: bytes=0-0` (HEAD is unreliable on real servers): size from Content-Range,
 * Range support from the 206, validators, the final URL after redirects and a Content-Disposition name.
 * Statuses >= 400 become `HttpStatusError` naming status and URL.
 */
export async function probe(
  ctx: Context,
  url: string,
  headers: readonly (readonly [string, string])[],
  signal: AbortSignal,
): Promise<ProbeResult> {
  const response = await probeGet(ctx, url, headers, signal);
  const finalUrl = response.url === "" ? url : response.url;
  const common = {
    url: finalUrl,
    etag: response.headers.get("etag") ?? undefined,
    lastModified: response.headers.get("last-modified") ?? undefined,
    dispositionName: dispositionFileName(response.headers.get("content-disposition")),
  };
  if (response.status === 206) {
    // Only the headers matter here. Cancelling a body the server already cut short rejects with a raw
    // ECONNRESET TypeError (Bun 1.4.4), which must not fail the probe (nor escape as an unexpected error).
    response.cancel();
    const range = parseContentRange(response.headers.get("content-range"));
    const total = range !== undefined && "total" in range ? range.total : undefined;
    return {
      remote: { ...common, totalBytes: total, acceptsRanges: total !== undefined },
      fullResponse: undefined,
    };
  }
  if (response.status === 416) {
    // A zero-byte file cannot satisfy bytes=0-0; servers say `bytes */0` (RFC 9110 §15.5.17).
    response.cancel();
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
  response.cancel();
  const error = new HttpStatusError(
    `HTTP ${response.status} ${response.statusText} for ${finalUrl}`.replace("  ", " "),
    {
      url: finalUrl,
      status: response.status,
    },
  );
  // withRetries (retry-loop.ts) reads `retryAfter` off the error to honour the server's wait (RFC 9110 §10.2.3).
  const retryAfter = response.headers.get("retry-after");
  throw retryAfter === null ? error : Object.assign(error, { retryAfter });
}

/**
 * The probe's GET. Where it can, it goes through the lean client (http1.ts), so that a server without
 * Range, whose 200 answer becomes the download itself, is read at the lean client's cost; `Connection:
 * close`, as nothing else will use that connection. A redirect the lean client does not follow is asked
 * again through fetch, which follows everything.
 */
async function probeGet(
  ctx: Context,
  url: string,
  headers: readonly (readonly [string, string])[],
  signal: AbortSignal,
): Promise<StreamedResponse> {
  const range = { start: 0, end: 0 };
  const lean = leanClientFor(url, ctx.env);
  if (lean !== undefined) {
    const leanHeaders = requestHeaders({ range, headers });
    leanHeaders.set("Connection", "close");
    const response = await lean.get(url, leanHeaders, signal);
    if (response.status < 300 || response.status >= 400) return response;
    response.cancel();
  }
  return streamFetchResponse(await httpGet(ctx, url, { range, headers, signal }));
}
