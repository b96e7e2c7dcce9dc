import { open } from "node:fs/promises";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { IntegrityError } from "../errors.ts";
import type { DownloadRequest } from "./download-request.ts";
import { fetchSourceRange } from "./fetch-range.ts";
import { readBody } from "./http.ts";
import type { Segment } from "./segment.ts";
import type { Source } from "./source.ts";
import { OPEN } from "./storage/no-follow.ts";
import type { Sink } from "./storage/sink.ts";
import type { VerifiedFile } from "./verify.ts";

/** What recovering a file whose whole-file hash failed needs (no piece hashes: see piece-repair.ts). */
export interface SourceRecoveryJob {
  readonly ctx: Context;
  readonly request: DownloadRequest;
  /** Source 0 first; at least two, or there is no other source to ask. */
  readonly sources: readonly Source[];
  readonly totalBytes: number;
  /** Complete segments (every writer closed). */
  readonly segments: readonly Segment[];
  readonly sink: Sink;
  readonly output: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * The source that served segment `segment` (a multi-source run knows it); undefined = unknown, which
   * counts as source 0 (a single-source run fetches every byte from it).
   */
  readonly servedBy?: ((segment: Segment) => number | undefined) | undefined;
  /** Told of the source found to have served wrong bytes. */
  readonly onBadSource?: ((source: Source) => void) | undefined;
  /** Hashes the file anew and, when it is right, places it (finalize.ts); throws an IntegrityError if not. */
  readonly finalize: () => Promise<VerifiedFile>;
}

/**
 * The whole-file hash failed and there are other sources: fetches again, from another source, the segments
 * each suspect source served (one suspect at a time, the one that served fewest bytes first, as a cheap
 * test), and checks the file after each. When the file comes right the suspect is named in one warning;
 * when no suspect explains it, the last IntegrityError is thrown. The file never gets its final name
 * unless its hash matches (finalize checks before placing). Returns the verified file.
 */
export async function recoverFromSources(
  job: SourceRecoveryJob,
  failure: IntegrityError,
): Promise<VerifiedFile> {
  const served = new Map<number, Segment[]>();
  for (const segment of job.segments) {
    const id = job.servedBy?.(segment) ?? 0;
    served.set(id, [...(served.get(id) ?? []), segment]);
  }
  const bytesOf = (list: readonly Segment[]) => list.reduce((sum, s) => sum + s.end - s.start + 1, 0);
  const suspects = [...served.entries()].sort((a, b) => bytesOf(a[1]) - bytesOf(b[1]));
  let last: unknown = failure;
  for (const [suspectId, segments] of suspects) {
    const suspect = job.sources.find((s) => s.id === suspectId);
    const others = job.sources
      .filter((s) => s.id !== suspectId)
      .sort((a, b) => (a.priority ?? 1) - (b.priority ?? 1) || a.id - b.id);
    const replacement = others[0];
    if (suspect === undefined || replacement === undefined) continue;
    job.log.warn(
      "the file failed its checksum: fetching the {bytes} bytes {suspect} served again from {other}",
      {
        bytes: bytesOf(segments),
        suspect: suspect.url,
        other: replacement.url,
      },
    );
    try {
      for (const segment of segments) await refetch(job, replacement, segment);
    } catch (error) {
      if (job.signal.aborted) throw error;
      job.log.warn("fetching from {other} failed: {error}", { other: replacement.url, error });
      last = error;
      continue;
    }
    try {
      const verified = await job.finalize();
      job.onBadSource?.(suspect);
      job.log.warn("{suspect} served wrong bytes: the file is right with {other}'s", {
        suspect: suspect.url,
        other: replacement.url,
      });
      return verified;
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      last = error;
    }
  }
  throw last;
}

/** Streams `segment`'s bytes from `source` over the stored ones, then syncs them. */
async function refetch(job: SourceRecoveryJob, source: Source, segment: Segment): Promise<void> {
  const checked = await fetchSourceRange(job, source, segment.start, segment.end);
  if (checked === undefined) {
    throw new IntegrityError(`${source.url} cannot serve bytes ${segment.start}-${segment.end} again`, {
      url: source.url,
      segment: segment.id,
    });
  }
  const { path, position } = job.sink.locate(segment, segment.start);
  const file = await open(path, OPEN.readWrite);
  try {
    let written = 0;
    await readBody(
      checked.response,
      (chunk) => {
        // A chunk is valid only during the call (readBody): the write gets its own copy.
        const take = chunk.slice(0, Math.min(chunk.length, checked.length - written));
        const at = written;
        written += take.length;
        const done = written === checked.length;
        const pending = file.write(take, 0, take.length, position + at).then(() => undefined);
        return done ? pending.then(() => undefined) : pending;
      },
      job.signal,
    );
    if (written !== checked.length) {
      throw new IntegrityError(`${source.url} ended bytes ${segment.start}-${segment.end} early`, {
        url: source.url,
        segment: segment.id,
      });
    }
    await file.sync();
  } finally {
    await file.close();
  }
}
