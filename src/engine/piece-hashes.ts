import type { ChecksumAlgorithm } from "./checksum.ts";

/**
 * Hashes of the file's pieces (a Metalink's `<pieces>`, RFC 5854 §4.2.13): piece i covers bytes
 * [i * length, min((i + 1) * length, size) - 1]. Lets a download check each piece as it completes and fetch
 * a bad one again from another source, instead of learning at the end that the whole file is wrong.
 */
export interface PieceHashes {
  readonly algorithm: ChecksumAlgorithm;
  /** Bytes per piece (the last may be shorter). */
  readonly length: number;
  /** One digest per piece, hex, lower case. */
  readonly hashes: readonly string[];
}

/** Inclusive byte range of piece `index` in a file of `size` bytes. */
export function pieceRange(pieces: PieceHashes, index: number, size: number): { start: number; end: number } {
  const start = index * pieces.length;
  return { start, end: Math.min(start + pieces.length, size) - 1 };
}

/**
 * Why `pieces` cannot describe a file of `size` bytes (their count must be ceil(size / length)), or undefined
 * when they fit.
 */
export function piecesMismatch(pieces: PieceHashes, size: number): string | undefined {
  if (!Number.isSafeInteger(pieces.length) || pieces.length <= 0) {
    return `piece length ${pieces.length} is not a positive byte count`;
  }
  const expected = Math.ceil(size / pieces.length);
  if (pieces.hashes.length !== expected) {
    return `${pieces.hashes.length} piece hashes of ${pieces.length} bytes for a ${size}-byte file (expected ${expected})`;
  }
  return undefined;
}
