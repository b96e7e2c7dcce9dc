import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { DlmError } from "../errors.ts";
import type { DownloadRequest } from "./download-request.ts";
import { discardBody } from "./http.ts";
import { probe } from "./probe.ts";
import type { RemoteFile } from "./remote-file.ts";
import type { Source } from "./source.ts";
import { assertFetchableUrl } from "./url-scheme.ts";

/** A URL that may hold the same file, before its probe says whether it does. */
export interface SourceCandidate {
  readonly given: string;
  /** Where it came from, for the log line and the URL-scheme error: "--mirror", "Link: rel=duplicate"… */
  readonly from: string;
  readonly priority?: number | undefined;
  readonly maxConnections?: number | undefined;
  /** Validators recorded for it by an earlier run: a mirror whose file changed since is dropped. */
  readonly saved?: { readonly etag?: string | undefined; readonly lastModified?: string | undefined };
}

/**
 * Most mirrors one download probes and keeps: a Link header or a Metalink naming thousands must not cost
 * thousands of requests before the first byte.
 */
export const MAX_MIRRORS = 16;

/** Source 0: the URL the user gave, as its probe described it. */
export function mainSource(request: DownloadRequest, remote: RemoteFile): Source {
  return { id: 0, given: request.url, url: remote.url, etag: remote.etag, lastModified: remote.lastModified };
}

/**
 * Probes each candidate once (`Range: bytes=0-0`, all at the same time) and keeps those that serve ranges of
 * a file of the main source's size, with their own validators; ids follow, from 1, in candidate order. A
 * candidate that is not http(s), cannot be reached, answers an error, ignores Range, has another size, or
 * (with `saved` validators) changed since the last run is dropped with one warning naming it and why: the
 * download goes on from the others. Credentials among the request's headers go only to the origin of the
 * URL the user gave (http.ts enforces it per request), so a mirror on another origin never gets them.
 * Duplicates of the main URL or of an earlier candidate are skipped, and at most MAX_MIRRORS are probed.
 */
export async function probeSources(
  ctx: Context,
  request: DownloadRequest,
  main: RemoteFile,
  candidates: readonly SourceCandidate[],
  signal: AbortSignal,
  log: Logger,
): Promise<Source[]> {
  const seen = new Set([request.url, main.url]);
  const unique: SourceCandidate[] = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.given)) continue;
    seen.add(candidate.given);
    if (unique.length === MAX_MIRRORS) {
      log.warn("ignoring mirror {url} from {from}: at most {max} mirrors are used", {
        url: candidate.given,
        from: candidate.from,
        max: MAX_MIRRORS,
      });
      continue;
    }
    unique.push(candidate);
  }
  const probed = await Promise.all(unique.map((c) => probeOne(ctx, request, main, c, signal)));
  const sources: Source[] = [mainSource(request, main)];
  for (const [index, outcome] of probed.entries()) {
    const candidate = unique[index];
    if (candidate === undefined) continue;
    if (typeof outcome === "string") {
      log.warn("dropping mirror {url} (from {from}): {reason}", {
        url: candidate.given,
        from: candidate.from,
        reason: outcome,
      });
      continue;
    }
    sources.push({
      id: sources.length,
      given: candidate.given,
      url: outcome.url,
      etag: outcome.etag,
      lastModified: outcome.lastModified,
      ...(candidate.priority === undefined ? {} : { priority: candidate.priority }),
      ...(candidate.maxConnections === undefined ? {} : { maxConnections: candidate.maxConnections }),
    });
  }
  if (signal.aborted) throw signal.reason;
  return sources;
}

/** The candidate's remote file, or why it cannot be a source of this download. */
async function probeOne(
  ctx: Context,
  request: DownloadRequest,
  main: RemoteFile,
  candidate: SourceCandidate,
  signal: AbortSignal,
): Promise<RemoteFile | string> {
  try {
    assertFetchableUrl(candidate.given, candidate.from);
    const probed = await probe(ctx, candidate.given, {
      headers: request.headers,
      credentialOrigin: new URL(request.url).origin,
      headTimeoutMs: request.stallTimeoutMs,
      signal,
      firstBytes: 1,
    });
    if (probed.fullResponse !== undefined) void discardBody(probed.fullResponse);
    if (probed.headResponse !== undefined) void discardBody(probed.headResponse.response);
    return mismatch(main, probed.remote, candidate) ?? probed.remote;
  } catch (error) {
    if (signal.aborted) return "cancelled";
    return error instanceof DlmError ? error.message : String(error);
  }
}

/** Why `remote` is not the file `main` describes, or undefined when it may be. */
export function mismatch(
  main: RemoteFile,
  remote: RemoteFile,
  candidate: SourceCandidate,
): string | undefined {
  if (!remote.acceptsRanges) return "it does not serve byte ranges";
  if (remote.totalBytes !== main.totalBytes) {
    return `its size is ${remote.totalBytes ?? "unknown"} bytes, not ${main.totalBytes ?? "unknown"}`;
  }
  const saved = candidate.saved;
  if (saved?.etag !== undefined && remote.etag !== saved.etag) {
    return `its ETag was ${saved.etag}, now ${remote.etag ?? "absent"}`;
  }
  if (
    saved?.etag === undefined &&
    saved?.lastModified !== undefined &&
    remote.lastModified !== saved.lastModified
  ) {
    return `its Last-Modified was ${saved.lastModified}, now ${remote.lastModified ?? "absent"}`;
  }
  return undefined;
}
