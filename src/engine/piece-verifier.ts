import { open } from "node:fs/promises";
import { createHasher } from "./checksum.ts";
import { type PieceHashes, pieceRange } from "./piece-hashes.ts";
import type { Segment } from "./segment.ts";
import { OPEN } from "./storage/no-follow.ts";
import type { Sink } from "./storage/sink.ts";

/** A piece whose bytes do not hash to its digest. Offsets inclusive, in the remote file. */
export interface BadPiece {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly expected: string;
  readonly actual: string;
}

/** An inclusive byte range that is readable from storage. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Indices of the pieces lying wholly inside [first, last] and wholly inside `readable` (ranges that do not
 * overlap; adjacent ones join), ascending. Pure: the verifier asks it which pieces a completed range made
 * checkable. Pieces cut by the slice's ends are never checkable (their other bytes are not fetched).
 */
export function coveredPieces(
  pieces: PieceHashes,
  size: number,
  first: number,
  last: number,
  readable: readonly ByteRange[],
): number[] {
  const merged: ByteRange[] = [];
  for (const range of [...readable].filter((r) => r.end >= r.start).sort((a, b) => a.start - b.start)) {
    const top = merged[merged.length - 1];
    if (top !== undefined && range.start <= top.end + 1) {
      merged[merged.length - 1] = { start: top.start, end: Math.max(top.end, range.end) };
    } else merged.push(range);
  }
  const found: number[] = [];
  for (const range of merged) {
    const from = Math.max(range.start, first);
    const to = Math.min(range.end, last);
    if (to < from) continue;
    for (let index = Math.ceil(from / pieces.length); index * pieces.length <= to; index++) {
      const piece = pieceRange(pieces, index, size);
      if (index >= pieces.hashes.length || piece.end > to) break;
      found.push(index);
    }
  }
  return found;
}

/**
 * Checks piece hashes (a Metalink's `<pieces>`) as pieces complete: each call of `check` reads back from
 * storage the pieces that became readable since the last call, hashes them and returns those that are wrong
 * (each piece is checked once until `recheck` is called for it). Calls run one after another. It reads only
 * what the writers already handed to the OS (`readable`), so it never races a write in flight.
 */
export class PieceVerifier {
  readonly #pieces: PieceHashes;
  readonly #size: number;
  readonly #first: number;
  readonly #last: number;
  readonly #sink: Sink;
  readonly #segments: () => readonly Segment[];
  readonly #readable: (segment: Segment) => number;
  readonly #checked = new Set<number>();
  #queue: Promise<unknown> = Promise.resolve();

  /**
   * @param size bytes of the remote file (pieces cover it from offset 0).
   * @param first first and `last` the inclusive slice being downloaded.
   * @param readable bytes of a segment (from its start) that can be read back from storage now.
   */
  constructor(
    pieces: PieceHashes,
    size: number,
    first: number,
    last: number,
    sink: Sink,
    segments: () => readonly Segment[],
    readable: (segment: Segment) => number,
  ) {
    this.#pieces = pieces;
    this.#size = size;
    this.#first = first;
    this.#last = last;
    this.#sink = sink;
    this.#segments = segments;
    this.#readable = readable;
  }

  /** Number of pieces inside the slice (those `check` can ever verify). */
  get checkable(): number {
    return coveredPieces(this.#pieces, this.#size, this.#first, this.#last, [
      { start: this.#first, end: this.#last },
    ]).length;
  }

  /** How many pieces were checked (good or bad) so far. */
  get checked(): number {
    return this.#checked.size;
  }

  /** Verifies the pieces that became readable since the last call; resolves with the bad ones. */
  check(): Promise<BadPiece[]> {
    const run = this.#queue.then(() => this.#checkNow());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Forgets that `index` was checked (its bytes were fetched again): the next `check` verifies it anew. */
  recheck(index: number): void {
    this.#checked.delete(index);
  }

  /** The digest a piece must have and its byte range. */
  piece(index: number): { readonly start: number; readonly end: number; readonly hash: string } {
    return { ...pieceRange(this.#pieces, index, this.#size), hash: this.#pieces.hashes[index] ?? "" };
  }

  /** Whether `bytes` are piece `index` (their digest is the expected one). */
  async matches(index: number, bytes: Uint8Array): Promise<boolean> {
    return (await this.#digest([bytes])) === this.#pieces.hashes[index];
  }

  async #checkNow(): Promise<BadPiece[]> {
    const segments = this.#segments();
    const readable = segments.map((s) => ({ start: s.start, end: s.start + this.#readable(s) - 1 }));
    const bad: BadPiece[] = [];
    for (const index of coveredPieces(this.#pieces, this.#size, this.#first, this.#last, readable)) {
      if (this.#checked.has(index)) continue;
      const { start, end } = pieceRange(this.#pieces, index, this.#size);
      const actual = await this.#digest(await this.#read(segments, start, end));
      this.#checked.add(index);
      const expected = this.#pieces.hashes[index] ?? "";
      if (actual !== expected) bad.push({ index, start, end, expected, actual });
    }
    return bad;
  }

  async #digest(chunks: readonly Uint8Array[]): Promise<string> {
    const hasher = await createHasher(this.#pieces.algorithm);
    for (const chunk of chunks) hasher.update(chunk);
    return hasher.digestHex();
  }

  /** Reads [start, end] back from storage, segment by segment. */
  async #read(segments: readonly Segment[], start: number, end: number): Promise<Uint8Array[]> {
    const parts: Uint8Array[] = [];
    for (const segment of [...segments].sort((a, b) => a.start - b.start)) {
      const from = Math.max(start, segment.start);
      const to = Math.min(end, segment.end);
      if (to < from) continue;
      const { path, position } = this.#sink.locate(segment, from);
      const buffer = new Uint8Array(to - from + 1);
      const file = await open(path, OPEN.read);
      try {
        let got = 0;
        while (got < buffer.length) {
          const { bytesRead } = await file.read(buffer, got, buffer.length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        parts.push(buffer.subarray(0, got));
      } finally {
        await file.close();
      }
    }
    return parts;
  }
}
