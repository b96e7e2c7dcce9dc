import { existsSync } from "node:fs";
import type { Context } from "../context.ts";
import { probe } from "./probe.ts";
import { differenceOf, SAMPLE_BYTES, type StoredSample, sampleDiffers } from "./refresh.ts";
import type { RemoteFile } from "./remote-file.ts";
import { type DownloadStateFile, readStateFile, statePath } from "./state-file.ts";
import { createSink } from "./storage/create-sink.ts";

/** How the probe of a new URL is sent (as the download's own requests). */
export interface SameFileRequest {
  readonly headers: readonly (readonly [string, string])[];
  /** Origin the credentials among `headers` were given for (the download's original URL's). */
  readonly credentialOrigin: string;
  readonly headTimeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Why `url` does not serve the file whose unfinished download `sidecar` holds, or undefined when it does (or
 * the sidecar holds nothing yet to compare): the same check as an expired link's refresh (refresh.ts) —
 * size, a strong ETag where both have one, and up to SAMPLE_BYTES already fsynced (state.json's `done`)
 * fetched again from `url` and compared. Used by Update of `url` and `dlm update ID --url URL`.
 */
export async function sidecarDiffersFrom(
  ctx: Context,
  sidecar: string,
  url: string,
  request: SameFileRequest,
): Promise<string | undefined> {
  if (!existsSync(statePath(sidecar))) return undefined;
  const state = await readStateFile(sidecar);
  const probed = await probe(ctx, url, { ...request, firstBytes: 1 });
  const recorded: RemoteFile = {
    url: state.url,
    totalBytes: state.totalBytes,
    acceptsRanges: state.acceptsRanges,
    etag: state.validator.etag,
    lastModified: state.validator.lastModified,
    dispositionName: undefined,
  };
  const why = differenceOf(recorded, probed.remote);
  if (why !== undefined) return why;
  return storedSampleDiffers(ctx, sidecar, state, probed.remote.url, request);
}

/**
 * Why `url` does not serve the bytes the sidecar already holds (up to SAMPLE_BYTES from the start of the
 * segment with the most fsynced bytes, state.json's `done`, fetched again and compared by SHA-256), or
 * undefined when they agree or nothing is stored yet. One range request; no probe.
 */
export async function storedSampleDiffers(
  ctx: Context,
  sidecar: string,
  state: DownloadStateFile,
  url: string,
  request: SameFileRequest,
): Promise<string | undefined> {
  let best = state.segments[0];
  for (const segment of state.segments) if (segment.done > (best?.done ?? 0)) best = segment;
  if (best === undefined || best.done === 0) return undefined;
  const sink = createSink(state.storage, sidecar, state.slice?.start ?? 0);
  const where = sink.locate(best, best.start);
  const length = Math.min(best.done, SAMPLE_BYTES);
  const bytes = new Uint8Array(
    await Bun.file(where.path)
      .slice(where.position, where.position + length)
      .arrayBuffer(),
  );
  if (bytes.length !== length) return `the sidecar holds fewer bytes than state.json says`;
  const sample: StoredSample = { offset: best.start, bytes };
  return sampleDiffers(ctx, url, sample, request, request.signal);
}
