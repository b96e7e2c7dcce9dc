import type { IHasher } from "hash-wasm";
import { UsageError } from "../errors.ts";

/** Every digest `--checksum` accepts, in the order help text lists them. */
export const CHECKSUM_ALGORITHMS = [
  "sha256",
  "sha512",
  "sha1",
  "md5",
  "sha3-256",
  "blake3",
  "xxh3",
  "xxh64",
  "xxh128",
  "crc32c",
  "crc32",
] as const;

/** A digest algorithm dlm can verify a download with. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** A parsed `--checksum` value. */
export interface ExpectedChecksum {
  readonly algorithm: ChecksumAlgorithm;
  /** The digest in lowercase hex, exactly as long as the algorithm's output. */
  readonly hex: string;
  /** The file name of a pasted checksum-file line (`HEX  NAME`); informational only, never used as a path. */
  readonly fileName?: string;
  /** Where the expected sum came from (`--checksum`, a sums file's URL or path, `Repr-Digest header`). */
  readonly source?: string | undefined;
}

/** Hex digits of each algorithm's digest (bytes × 2). */
const HEX_LENGTH: Readonly<Record<ChecksumAlgorithm, number>> = {
  sha256: 64,
  sha512: 128,
  sha1: 40,
  md5: 32,
  "sha3-256": 64,
  blake3: 64,
  xxh3: 16,
  xxh64: 16,
  xxh128: 32,
  crc32c: 8,
  crc32: 8,
};

/** What a bare digest's length means, as in sha256sum/sha1sum/md5sum/sha512sum files. */
const INFERRED: ReadonlyMap<number, ChecksumAlgorithm> = new Map([
  [32, "md5"],
  [40, "sha1"],
  [64, "sha256"],
  [128, "sha512"],
]);

/** Algorithm names keyed by their spelling lowercased without `-`/`_` (so `SHA-256`, `sha_256`, `sha256` agree). */
const BY_KEY: ReadonlyMap<string, ChecksumAlgorithm> = new Map(
  CHECKSUM_ALGORITHMS.map((name) => [nameKey(name), name]),
);

const FLAG = "--checksum";
const HEX = /^[0-9a-f]*$/i;

/** True when `name` is a canonical algorithm name, e.g. for validating a checksum read back from state.json. */
export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/**
 * Parses a `--checksum` value. Accepted: `ALGO:HEX`, aria2's `ALGO=HEX`, algorithm names in any case with or
 * without dashes (`SHA-256`, `sha256`, `sha3-256`), and one line of a checksum file, `HEX  NAME` / `HEX *NAME`
 * (also `ALGO:HEX  NAME`). A digest without a name infers its algorithm from its length like the *sum tools:
 * 32 md5, 40 sha1, 64 sha256, 128 sha512; shorter digests (xxh3, crc32...) need an explicit `ALGO:`.
 * Pure: no I/O. Throws `UsageError` (flag `--checksum`, `input`) with a one-line message naming the value.
 */
export function parseChecksum(input: string): ExpectedChecksum {
  const quoted = JSON.stringify(input);
  const usage = (message: string, fields: { expected?: string; actual?: string; hint?: string } = {}) => {
    const hint = fields.hint === undefined ? "" : ` (${fields.hint})`;
    return new UsageError(`${FLAG}: ${message}${hint}`, { flag: FLAG, input, ...fields });
  };
  const text = input.trim();
  if (text === "") throw usage(`expected ALGO:HEX such as sha256:<64 hex digits>, got ${quoted}`);
  if (/[\r\n]/.test(text)) throw usage(`expected one checksum line, got ${quoted}`);

  // A checksum-file line: GNU prints HEX, a space, " " (text) or "*" (binary), NAME. Any whitespace will do.
  const line = /^(\S+)\s+(.+)$/.exec(text);
  const token = line?.[1] ?? text;
  const rest = line?.[2];
  const fileName = rest?.startsWith("*") ? rest.slice(1) : rest;

  const sep = token.search(/[:=]/);
  let algorithm: ChecksumAlgorithm | undefined;
  let hex: string;
  if (sep >= 0) {
    const name = token.slice(0, sep);
    hex = token.slice(sep + 1);
    algorithm = BY_KEY.get(nameKey(name));
    if (algorithm === undefined) {
      const near = nearest(name);
      throw usage(`unknown algorithm ${JSON.stringify(name)} in ${quoted}`, {
        hint: near === undefined ? `supported: ${CHECKSUM_ALGORITHMS.join(", ")}` : `did you mean ${near}?`,
      });
    }
  } else {
    hex = token;
    if (!HEX.test(hex)) throw usage(`expected ALGO:HEX or a hex digest, got ${quoted}`);
    algorithm = INFERRED.get(hex.length);
    if (algorithm === undefined) {
      throw usage(`cannot tell the algorithm from ${hex.length} hex digits in ${quoted}`, {
        actual: String(hex.length),
        hint: "write ALGO:HEX, e.g. xxh3:<16 hex digits>",
      });
    }
  }
  if (!HEX.test(hex)) throw usage(`${algorithm} digest must be hexadecimal (0-9, a-f), got ${quoted}`);
  const want = HEX_LENGTH[algorithm];
  if (hex.length !== want) {
    throw usage(`${algorithm} expects ${want} hex digits, got ${hex.length} in ${quoted}`, {
      expected: String(want),
      actual: String(hex.length),
    });
  }
  const result = { algorithm, hex: hex.toLowerCase() };
  return fileName === undefined || fileName === "" ? result : { ...result, fileName };
}

/** A running digest: feed bytes in order with `update`, then read the lowercase hex with `digestHex`. */
export interface IncrementalHasher {
  /** Adds `chunk` (any size, including empty) after everything given before. Throws once digested. */
  update(chunk: Uint8Array): void;
  /**
   * Lowercase hex of everything given so far; ends the hasher (later calls return the same value).
   * Multi-byte integer digests (xxh3, xxh64, xxh128, crc32, crc32c) are printed big-endian, the canonical
   * form of `xxhsum`, `crc32`, `gsutil` etc.: crc32("abc") = "352441c2", xxh3("") = "2d06800538d394c2".
   */
  digestHex(): string;
}

/**
 * Creates a fresh hasher for `algorithm`. sha256, sha512, sha1 and md5 use Bun's native `Bun.CryptoHasher`
 * (about 10x faster than wasm under Bun); the rest use hash-wasm (one wasm instance per hasher, so hashers
 * may run concurrently). Async only because wasm instantiation is.
 */
export async function createHasher(algorithm: ChecksumAlgorithm): Promise<IncrementalHasher> {
  switch (algorithm) {
    case "sha256":
    case "sha512":
    case "sha1":
    case "md5":
      return nativeHasher(algorithm);
  }
  // Loaded only when asked for: hash-wasm costs start-up time and memory that SHA-256 downloads never need.
  const wasm = await import("hash-wasm");
  switch (algorithm) {
    case "sha3-256":
      return wasmHasher(await wasm.createSHA3(256));
    case "blake3":
      return wasmHasher(await wasm.createBLAKE3());
    case "xxh3":
      return wasmHasher(await wasm.createXXHash3());
    case "xxh64":
      return wasmHasher(await wasm.createXXHash64());
    case "xxh128":
      return wasmHasher(await wasm.createXXHash128());
    case "crc32c":
      // Castagnoli polynomial, reflected form (RFC 3720 appendix B.4).
      return wasmHasher(await wasm.createCRC32(0x82f63b78));
    case "crc32":
      return wasmHasher(await wasm.createCRC32());
  }
}

/** True when two hex digests are the same, ignoring case. */
export function digestsMatch(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function nativeHasher(algorithm: "sha256" | "sha512" | "sha1" | "md5"): IncrementalHasher {
  const hasher = new Bun.CryptoHasher(algorithm);
  return once(
    (chunk) => hasher.update(chunk),
    () => hasher.digest("hex"),
  );
}

function wasmHasher(hasher: IHasher): IncrementalHasher {
  return once(
    (chunk) => hasher.update(chunk),
    () => hasher.digest("hex"),
  );
}

/** Gives both back-ends one contract: digest at most once (neither library allows more), update never after. */
function once(update: (chunk: Uint8Array) => void, digest: () => string): IncrementalHasher {
  let done: string | undefined;
  return {
    update(chunk) {
      if (done !== undefined) throw new Error("checksum: update() after digestHex()");
      update(chunk);
    },
    digestHex() {
      done ??= digest();
      return done;
    },
  };
}

function nameKey(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, "");
}

/** The supported name closest to `name` when it is a near miss (at most 2 edits, a swap counting as 1). */
function nearest(name: string): ChecksumAlgorithm | undefined {
  let best: ChecksumAlgorithm | undefined;
  let bestDistance = 3;
  for (const [key, algorithm] of BY_KEY) {
    const d = editDistance(nameKey(name), key);
    if (d < bestDistance) [best, bestDistance] = [algorithm, d];
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const d: number[] = [];
  const at = (i: number, j: number): number => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) {
    for (let j = 0; j <= b.length; j++) {
      let v = Math.max(i, j);
      if (i > 0 && j > 0) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
          v = Math.min(v, at(i - 2, j - 2) + 1);
      }
      d[i * width + j] = v;
    }
  }
  return at(a.length, b.length);
}
