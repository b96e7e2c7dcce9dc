import { open } from "node:fs/promises";

/**
 * Deterministic test content: byte `i` of the file with seed `s` is
 * `PATTERN[i % P] ^ ((floor(i / P) * 31 + s) & 0xff)`, where PATTERN is a fixed xorshift block of prime
 * length P. Any range is computable from its offset, so servers and tests never store big files.
 * Only `seed & 0xff` matters: seeds that differ by a multiple of 256 give the same content.
 */

/** Length of the pattern block in bytes; prime, so the pattern never lines up with power-of-two chunks. */
export const PATTERN_LENGTH = 65521;

/** Seed used when none is given. */
export const DEFAULT_SEED = 1;

const PATTERN = makePattern(PATTERN_LENGTH);
// PATTERN xor each possible mask, built on first use: filling then is a memcpy per block, not a JS loop per
// byte, which keeps serving 64 MiB+ fast. At most 256 x 64 KiB = 16 MiB.
const masked: (Uint8Array | undefined)[] = [];

function makePattern(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < length; i++) {
    // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function maskedPattern(mask: number): Uint8Array {
  let block = masked[mask];
  if (block === undefined) {
    block = new Uint8Array(PATTERN_LENGTH);
    for (let i = 0; i < PATTERN_LENGTH; i++) block[i] = (PATTERN[i] ?? 0) ^ mask;
    masked[mask] = block;
  }
  return block;
}

function maskOf(blockIndex: number, seed: number): number {
  return (blockIndex * 31 + seed) & 0xff;
}

/** Byte at `offset` (0-based, bytes) of the file with `seed`. Slow per call; use fillBytes for ranges. */
export function byteAt(offset: number, seed = DEFAULT_SEED): number {
  return (PATTERN[offset % PATTERN_LENGTH] ?? 0) ^ maskOf(Math.floor(offset / PATTERN_LENGTH), seed);
}

/** Fills `target` with bytes `offset .. offset + target.length - 1` of the file with `seed`. */
export function fillBytes(target: Uint8Array, offset: number, seed = DEFAULT_SEED): void {
  let written = 0;
  while (written < target.length) {
    const pos = offset + written;
    const block = Math.floor(pos / PATTERN_LENGTH);
    const inBlock = pos - block * PATTERN_LENGTH;
    const n = Math.min(PATTERN_LENGTH - inBlock, target.length - written);
    target.set(maskedPattern(maskOf(block, seed)).subarray(inBlock, inBlock + n), written);
    written += n;
  }
}

/** Bytes `start ..= endInclusive` (inclusive, like HTTP ranges) of the file with `seed`, as a new array. */
export function bytesOf(start: number, endInclusive: number, seed = DEFAULT_SEED): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.max(0, endInclusive - start + 1));
  fillBytes(out, start, seed);
  return out;
}

const CHUNK = 4 * 1024 * 1024;
const digests = new Map<string, string>();

/** Lower-case hex SHA-256 of the whole file of `size` bytes with `seed`; memoised per (size, seed). */
export function sha256Of(size: number, seed = DEFAULT_SEED): string {
  const key = `${size}:${seed}`;
  const known = digests.get(key);
  if (known !== undefined) return known;
  const hasher = new Bun.CryptoHasher("sha256");
  const buf = new Uint8Array(Math.min(CHUNK, size));
  for (let pos = 0; pos < size; pos += CHUNK) {
    const part = buf.subarray(0, Math.min(CHUNK, size - pos));
    fillBytes(part, pos, seed);
    hasher.update(part);
  }
  const hex = hasher.digest("hex");
  digests.set(key, hex);
  return hex;
}

/** Writes (creating or truncating) a file of `size` bytes with `seed` at `path`, 4 MiB at a time. */
export async function writeFileOf(path: string, size: number, seed = DEFAULT_SEED): Promise<void> {
  const handle = await open(path, "w");
  try {
    const buf = new Uint8Array(Math.min(CHUNK, size));
    for (let pos = 0; pos < size; pos += CHUNK) {
      const part = buf.subarray(0, Math.min(CHUNK, size - pos));
      fillBytes(part, pos, seed);
      // write() may write less than asked; loop until the chunk is on disk.
      let done = 0;
      while (done < part.length) {
        const { bytesWritten } = await handle.write(part, done, part.length - done, pos + done);
        done += bytesWritten;
      }
    }
  } finally {
    await handle.close();
  }
}

/** SHA-256 of bytes in memory, as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}
