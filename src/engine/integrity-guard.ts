import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { IntegrityError } from "../errors.ts";
import { repairPieces } from "./piece-repair.ts";
import { type BadPiece, PieceVerifier } from "./piece-verifier.ts";
import type { PreparedDownload } from "./prepare.ts";
import type { Segment } from "./segment.ts";
import type { Source } from "./source.ts";
import { recoverFromSources } from "./source-recovery.ts";
import type { Sink } from "./storage/sink.ts";
import type { VerifiedFile } from "./verify.ts";

/**
 * A download's integrity across sources, in three calls from the run (download.ts): `tick` checks the piece
 * hashes of pieces completed since the last tick; `repairPieces` (after the last byte) fetches every bad
 * piece again from another source; `recover` (when the whole-file checksum failed, without piece hashes)
 * fetches the suspect sources' segments again until the file is right. A multi-source engine tells it who
 * served what (`servedBy`) and hears of bad sources (`onBadSource`) to demote them.
 */
export class IntegrityGuard {
  readonly #ctx: Context;
  readonly #prepared: PreparedDownload;
  readonly #sink: Sink;
  readonly #segments: () => readonly Segment[];
  readonly #log: Logger;
  readonly #pieces: PieceVerifier | undefined;
  readonly #bad: BadPiece[] = [];
  #checking: Promise<void> | undefined;
  /** The source that served segment bytes [start, end] (set by a multi-source engine); unknown = source 0. */
  servedBy: ((start: number, end: number) => number | undefined) | undefined;
  /** Told of each source that sent a bad piece or wrong bytes (a multi-source engine demotes it). */
  onBadSource: ((source: Source) => void) | undefined;

  /** `readable`: bytes of a segment (from its start) that can be read back from storage now. */
  constructor(
    ctx: Context,
    prepared: PreparedDownload,
    sink: Sink,
    segments: () => readonly Segment[],
    readable: (segment: Segment) => number,
    log: Logger,
  ) {
    this.#ctx = ctx;
    this.#prepared = prepared;
    this.#sink = sink;
    this.#segments = segments;
    this.#log = log;
    const pieces = prepared.request.pieceHashes;
    const size = prepared.remote.totalBytes;
    const ranged = prepared.mode === "range" && prepared.last !== undefined;
    this.#pieces =
      pieces === undefined || size === undefined || !ranged
        ? undefined
        : new PieceVerifier(pieces, size, prepared.first, prepared.last ?? 0, sink, segments, readable);
  }

  /** Starts a check of the pieces completed since the last one, unless one runs; never blocks. */
  tick(): void {
    const pieces = this.#pieces;
    if (pieces === undefined || this.#checking !== undefined) return;
    this.#checking = pieces
      .check()
      .then(
        (bad) => {
          for (const piece of bad) {
            this.#log.warn("piece {index} (bytes {start}-{end}) failed its check", {
              index: piece.index,
              start: piece.start,
              end: piece.end,
            });
          }
          this.#bad.push(...bad);
        },
        (error: unknown) => this.#log.warn("piece check failed: {error}", { error }),
      )
      .finally(() => {
        this.#checking = undefined;
      });
  }

  /**
   * After the last byte (every writer closed): checks the pieces not yet checked and fetches every bad one
   * again (piece-repair.ts). True when bytes were rewritten: a hash of the file made before is stale.
   * Throws an IntegrityError when a piece is wrong at every source.
   */
  async repairPieces(signal: AbortSignal): Promise<boolean> {
    const pieces = this.#pieces;
    if (pieces === undefined) return false;
    await this.#checking;
    const bad = [...this.#bad, ...(await pieces.check())];
    this.#bad.length = 0;
    if (bad.length === 0) return false;
    const servedBy = this.servedBy;
    await repairPieces(
      {
        ...this.#refetchJob(signal),
        verifier: pieces,
        servedBy,
        onBadSource: (source) => this.onBadSource?.(source),
      },
      bad,
    );
    return true;
  }

  /**
   * `error` from finalize: when it is a whole-file checksum mismatch, there are other sources and no piece
   * hashes said where the fault is, fetches the suspects' bytes again (source-recovery.ts) with `finalize`
   * checking after each; otherwise rejects with `error` as it is.
   */
  recover(error: unknown, signal: AbortSignal, finalize: () => Promise<VerifiedFile>): Promise<VerifiedFile> {
    const prepared = this.#prepared;
    const checksum = prepared.state.checksum;
    const mismatch =
      error instanceof IntegrityError && checksum !== undefined && error.expected === checksum.hex;
    if (!mismatch || prepared.sources.length < 2 || this.#pieces !== undefined || prepared.mode !== "range") {
      return Promise.reject(error);
    }
    const servedBy = this.servedBy;
    return recoverFromSources(
      {
        ...this.#refetchJob(signal),
        servedBy: servedBy === undefined ? undefined : (segment) => servedBy(segment.start, segment.end),
        onBadSource: (source) => this.onBadSource?.(source),
        finalize,
      },
      error,
    );
  }

  /** What piece repair and source recovery both need to fetch bytes again and write them over the stored ones. */
  #refetchJob(signal: AbortSignal) {
    const prepared = this.#prepared;
    return {
      ctx: this.#ctx,
      request: prepared.request,
      sources: prepared.sources,
      totalBytes: prepared.remote.totalBytes ?? 0,
      sink: this.#sink,
      segments: this.#segments(),
      output: prepared.output,
      signal,
      log: this.#log,
    };
  }
}
