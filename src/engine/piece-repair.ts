import { open } from "node:fs/promises";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { IntegrityError } from "../errors.ts";
import type { DownloadRequest } from "./download-request.ts";
import { fetchSourceRange } from "./fetch-range.ts";
import { readBody } from "./http.ts";
import type { BadPiece, PieceVerifier } from "./piece-verifier.ts";
import type { Segment } from "./segment.ts";
import type { Source } from "./source.ts";
import { OPEN } from "./storage/no-follow.ts";
import type { Sink } from "./storage/sink.ts";

/** Everything needed to fetch bad pieces again and write them over the bad bytes. */
export interface PieceRepairJob {
  readonly ctx: Context;
  readonly request: DownloadRequest;
  /** Source 0 first (see PreparedDownload.sources). */
  readonly sources: readonly Source[];
  readonly totalBytes: number;
  readonly verifier: PieceVerifier;
  readonly sink: Sink;
  /** Complete segments (every writer closed): the bytes to overwrite live where `sink.locate` says. */
  readonly segments: readonly Segment[];
  readonly output: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * The source that served the bytes [start, end], when the engine knows it (a multi-source run); undefined
   * means unknown, and source 0 is suspected (it is the one a single-source run fetches from).
   */
  readonly servedBy?: ((start: number, end: number) => number | undefined) | undefined;
  /** Told once per source that sent a bad piece (to demote it in the scheduler). */
  readonly onBadSource?: ((source: Source) => void) | undefined;
}

/**
 * Fetches each bad piece again, from another source than the one that served it first (the suspect is
 * tried last, for a corruption in transit), verifies it in memory and only then writes it over the bad
 * bytes and syncs. A source that sends a wrong piece is named in one warning, reported through
 * `onBadSource` and tried last for the pieces that follow. Throws an IntegrityError naming the piece and
 * the sources when none of them has it right: the file then never gets its final name.
 * Returns how many pieces were repaired.
 */
export async function repairPieces(job: PieceRepairJob, bad: readonly BadPiece[]): Promise<number> {
  const demoted = new Set<number>();
  for (const piece of bad) {
    const suspect = job.servedBy?.(piece.start, piece.end) ?? 0;
    const source = job.sources.find((s) => s.id === suspect);
    job.log.warn("piece {index} (bytes {start}-{end}) from {url} failed its check; fetching it again", {
      index: piece.index,
      start: piece.start,
      end: piece.end,
      url: source?.url ?? "",
    });
    if (source !== undefined && !demoted.has(source.id)) {
      demoted.add(source.id);
      job.onBadSource?.(source);
    }
    const order = [...job.sources].sort((a, b) => rank(a, suspect, demoted) - rank(b, suspect, demoted));
    let fixed = false;
    for (const candidate of order) {
      const bytes = await fetchPiece(job, candidate, piece).catch((error: unknown) => {
        if (job.signal.aborted) throw error;
        job.log.info("piece {index} from {url} failed: {error}", {
          index: piece.index,
          url: candidate.url,
          error,
        });
        return undefined;
      });
      if (bytes === undefined) continue;
      if (await job.verifier.matches(piece.index, bytes)) {
        await writeOver(job, piece.start, bytes);
        job.verifier.recheck(piece.index);
        fixed = true;
        break;
      }
      job.log.warn("{url} sent piece {index} wrong again: it serves another file", {
        url: candidate.url,
        index: piece.index,
      });
      if (!demoted.has(candidate.id)) {
        demoted.add(candidate.id);
        job.onBadSource?.(candidate);
      }
    }
    if (!fixed) {
      const names = job.sources.map((s) => s.url).join(", ");
      throw new IntegrityError(
        `${job.output}: piece ${piece.index} (bytes ${piece.start}-${piece.end}) failed its check from every source (${names})`,
        { file: job.output, expected: piece.expected, actual: piece.actual },
      );
    }
  }
  return bad.length;
}

/** Sources that sent a bad piece go last, the suspect of this piece after the others. */
function rank(source: Source, suspect: number, demoted: ReadonlySet<number>): number {
  const base = (source.priority ?? 1) + source.id / 1000;
  return (demoted.has(source.id) ? 2e6 : 0) + (source.id === suspect ? 1e6 : 0) + base;
}

/** The piece's bytes from `source` (exactly end-start+1 of them), or a thrown DlmError. */
async function fetchPiece(
  job: PieceRepairJob,
  source: Source,
  piece: BadPiece,
): Promise<Uint8Array | undefined> {
  const checked = await fetchSourceRange(job, source, piece.start, piece.end);
  if (checked === undefined) return undefined;
  const buffer = new Uint8Array(checked.length);
  let got = 0;
  await readBody(
    checked.response,
    (chunk) => {
      const take = Math.min(chunk.length, buffer.length - got);
      buffer.set(chunk.subarray(0, take), got);
      got += take;
      return got === buffer.length ? "stop" : "more";
    },
    job.signal,
  );
  return got === buffer.length ? buffer : undefined;
}

/** Writes `bytes` at file offset `start` into the segments' storage, then syncs what it wrote. */
async function writeOver(job: PieceRepairJob, start: number, bytes: Uint8Array): Promise<void> {
  const end = start + bytes.length - 1;
  for (const segment of job.segments) {
    const from = Math.max(start, segment.start);
    const to = Math.min(end, segment.end);
    if (to < from) continue;
    const { path, position } = job.sink.locate(segment, from);
    const file = await open(path, OPEN.readWrite);
    try {
      await file.write(bytes.subarray(from - start, to - start + 1), 0, to - from + 1, position);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}
