import type { Context } from "../context.ts";
import type { DownloadRequest } from "./download-request.ts";
import { discardBody, httpGet } from "./http.ts";
import { checkRangeResponse, isStrongEtag } from "./response-check.ts";
import type { Source } from "./source.ts";

/** What a ranged fetch from one source needs: the run's context, request (headers, credentials), size and signal. */
export interface RangeFetchJob {
  readonly ctx: Context;
  readonly request: DownloadRequest;
  readonly totalBytes: number;
  readonly signal: AbortSignal;
}

/** A range response checked against the source's validators, its body still to read. */
export interface CheckedRange {
  readonly response: Response;
  /** How many body bytes were asked for (end-start+1): read no more than these. */
  readonly length: number;
}

/**
 * Asks `source` for bytes [start, end] (inclusive), If-Range with its strong ETag, the user's headers sent
 * only to the origin the user named, and checks the answer against the source's own validators and the
 * file's size. Returns undefined (body discarded) when the answer cannot be used as those bytes: the caller
 * decides whether that is a skip or an error. Repair and recovery both refetch this way (piece-repair.ts,
 * source-recovery.ts), so they agree on what a source may send back.
 */
export async function fetchSourceRange(
  job: RangeFetchJob,
  source: Source,
  start: number,
  end: number,
): Promise<CheckedRange | undefined> {
  const response = await httpGet(job.ctx, source.url, {
    range: { start, end },
    ifRange: source.etag !== undefined && isStrongEtag(source.etag) ? source.etag : undefined,
    headers: job.request.headers,
    credentialOrigin: new URL(job.request.url).origin,
    headTimeoutMs: job.request.stallTimeoutMs,
    signal: job.signal,
  });
  const checked = checkRangeResponse(response, {
    start,
    end,
    total: job.totalBytes,
    etag: source.etag,
    lastModified: source.lastModified,
  });
  if (!checked.ok) {
    await discardBody(response);
    return undefined;
  }
  return { response, length: checked.length };
}
