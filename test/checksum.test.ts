import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  createHasher,
  digestsMatch,
  type ExpectedChecksum,
  isChecksumAlgorithm,
  parseChecksum,
} from "../src/engine/checksum.ts";
import { UsageError } from "../src/errors.ts";
import { EXIT } from "../src/exit-codes.ts";

const SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const SHA1_ABC = "a9993e364706816aba3e25717850c26c9cd0d89d";
const MD5_ABC = "900150983cd24fb0d6963f7d28e17f72";
const SHA512_ABC =
  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

/**
 * Known answers, each computed with a tool independent of dlm and hash-wasm (Debian bookworm):
 * md5sum/sha1sum/sha256sum/sha512sum (coreutils 9.1), b3sum 1.2.0, xxhsum 0.8.1 (-H1 xxh64, -H3 xxh3, -H2 xxh128),
 * python3 hashlib.sha3_256 and zlib.crc32, and a bitwise pure-python CRC-32C (poly 0x82F63B78) that was first
 * checked against the catalogue check value crc32c("123456789") = e3069283.
 * "big" is 100,003 bytes with byte i = i % 251, long enough for BLAKE3's chunk tree and xxh3's long-input path.
 */
const VECTORS: Record<ChecksumAlgorithm, { empty: string; abc: string; big: string }> = {
  md5: { empty: "d41d8cd98f00b204e9800998ecf8427e", abc: MD5_ABC, big: "2e7df8ce2c03b3b052faa1e3bb809159" },
  sha1: {
    empty: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    abc: SHA1_ABC,
    big: "6f0200be609eb1859ce568a4ba3ebe5b043d4a63",
  },
  sha256: {
    empty: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    abc: SHA256_ABC,
    big: "635e9a7d2f64ce04a46b1503cbe287b8721795f215f4b8cf24b256908acaab1a",
  },
  sha512: {
    empty:
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    abc: SHA512_ABC,
    big: "bf6d83951dc81acea9c115306ac2f7179e94fb48765bdd4e0d1fdf13d4623a688a7d4a0141ca62cfdd13002e1cc8949a20ea410885fe6ffd43844830c49abee9",
  },
  "sha3-256": {
    empty: "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
    abc: "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
    big: "d7407a302ba247cc74c60482ddf3e70f299087aba4f88bb180ec2734b83f58a4",
  },
  blake3: {
    empty: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    abc: "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
    big: "ecbf9ff05e2ec5fd331a6fb97fa198df8e18b631c7abca6e8ebaa3bf5a5c0493",
  },
  xxh3: { empty: "2d06800538d394c2", abc: "78af5f94892f3950", big: "acf33ba3cf61e369" },
  xxh64: { empty: "ef46db3751d8e999", abc: "44bc2cf5ad770999", big: "cbab15ce50b1eb20" },
  xxh128: {
    empty: "99aa06d3014798d86001c324468d497f",
    abc: "06b05ab6733a618578af5f94892f3950",
    big: "b02e921ecad88f0facf33ba3cf61e369",
  },
  crc32c: { empty: "00000000", abc: "364b3fb7", big: "caa08a5c" },
  crc32: { empty: "00000000", abc: "352441c2", big: "bce3a8c1" },
};

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const big = Uint8Array.from({ length: 100_003 }, (_, i) => i % 251);

async function hashOf(algorithm: ChecksumAlgorithm, ...chunks: Uint8Array[]): Promise<string> {
  const hasher = await createHasher(algorithm);
  for (const chunk of chunks) hasher.update(chunk);
  return hasher.digestHex();
}

/** The UsageError parseChecksum throws for `input`; fails the test when it throws nothing or something else. */
function usageErrorOf(input: string): UsageError {
  try {
    parseChecksum(input);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`parseChecksum accepted ${JSON.stringify(input)}`);
}

describe("parseChecksum accepts", () => {
  const accepted: [input: string, expected: ExpectedChecksum][] = [
    [`sha256:${SHA256_ABC}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`sha256:${SHA256_ABC.toUpperCase()}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`SHA256:${SHA256_ABC}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`SHA-256:${SHA256_ABC}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`sha-256=${SHA256_ABC}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`sha256=${SHA256_ABC}`, { algorithm: "sha256", hex: SHA256_ABC }],
    [`sha-1=${SHA1_ABC}`, { algorithm: "sha1", hex: SHA1_ABC }],
    [`SHA1:${SHA1_ABC}`, { algorithm: "sha1", hex: SHA1_ABC }],
    [`sha-512=${SHA512_ABC}`, { algorithm: "sha512", hex: SHA512_ABC }],
    [`sha512:${SHA512_ABC}`, { algorithm: "sha512", hex: SHA512_ABC }],
    [`md5=${MD5_ABC}`, { algorithm: "md5", hex: MD5_ABC }],
    [`MD5:${MD5_ABC}`, { algorithm: "md5", hex: MD5_ABC }],
    [`sha3-256:${VECTORS["sha3-256"].abc}`, { algorithm: "sha3-256", hex: VECTORS["sha3-256"].abc }],
    [`SHA3_256:${VECTORS["sha3-256"].abc}`, { algorithm: "sha3-256", hex: VECTORS["sha3-256"].abc }],
    [`sha3256=${VECTORS["sha3-256"].abc}`, { algorithm: "sha3-256", hex: VECTORS["sha3-256"].abc }],
    [`blake3:${VECTORS.blake3.abc}`, { algorithm: "blake3", hex: VECTORS.blake3.abc }],
    [`BLAKE-3:${VECTORS.blake3.abc}`, { algorithm: "blake3", hex: VECTORS.blake3.abc }],
    ["xxh3:78AF5F94892F3950", { algorithm: "xxh3", hex: "78af5f94892f3950" }],
    ["XXH64=44bc2cf5ad770999", { algorithm: "xxh64", hex: "44bc2cf5ad770999" }],
    [`xxh128:${VECTORS.xxh128.abc}`, { algorithm: "xxh128", hex: VECTORS.xxh128.abc }],
    ["crc32c:364b3fb7", { algorithm: "crc32c", hex: "364b3fb7" }],
    ["CRC-32C=364B3FB7", { algorithm: "crc32c", hex: "364b3fb7" }],
    ["crc32:352441c2", { algorithm: "crc32", hex: "352441c2" }],
    [`  sha256:${SHA256_ABC}\n`, { algorithm: "sha256", hex: SHA256_ABC }],
    // Bare digests: the algorithm follows from the length, as in the *sum tools.
    [MD5_ABC, { algorithm: "md5", hex: MD5_ABC }],
    [SHA1_ABC, { algorithm: "sha1", hex: SHA1_ABC }],
    [SHA256_ABC.toUpperCase(), { algorithm: "sha256", hex: SHA256_ABC }],
    [SHA512_ABC, { algorithm: "sha512", hex: SHA512_ABC }],
    // Checksum-file lines (text and binary mode), the name kept but never trusted.
    [`${SHA256_ABC}  ubuntu.iso`, { algorithm: "sha256", hex: SHA256_ABC, fileName: "ubuntu.iso" }],
    [`${SHA256_ABC} *ubuntu.iso\n`, { algorithm: "sha256", hex: SHA256_ABC, fileName: "ubuntu.iso" }],
    [`${MD5_ABC}  a file.bin`, { algorithm: "md5", hex: MD5_ABC, fileName: "a file.bin" }],
    [`${SHA1_ABC}\tx:y=z`, { algorithm: "sha1", hex: SHA1_ABC, fileName: "x:y=z" }],
    [
      `${SHA512_ABC}  ../../etc/passwd`,
      { algorithm: "sha512", hex: SHA512_ABC, fileName: "../../etc/passwd" },
    ],
    [`sha256:${SHA256_ABC}  f.tar`, { algorithm: "sha256", hex: SHA256_ABC, fileName: "f.tar" }],
    [`xxh3:78af5f94892f3950 *f.tar`, { algorithm: "xxh3", hex: "78af5f94892f3950", fileName: "f.tar" }],
  ];
  test.each(accepted)("%p", (input, expected) => {
    expect(parseChecksum(input)).toEqual(expected);
  });

  test("every listed algorithm parses under its canonical name and length", () => {
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      expect(parseChecksum(`${algorithm}:${VECTORS[algorithm].abc}`)).toEqual({
        algorithm,
        hex: VECTORS[algorithm].abc,
      });
      expect(isChecksumAlgorithm(algorithm)).toBe(true);
    }
    expect(isChecksumAlgorithm("SHA-256")).toBe(false);
  });
});

describe("parseChecksum rejects with UsageError naming --checksum and the value", () => {
  const rejected: [input: string, fragment: string][] = [
    ["", "expected ALGO:HEX"],
    ["   ", "expected ALGO:HEX"],
    [`sha265:${SHA256_ABC}`, 'unknown algorithm "sha265" in'],
    [`sha265:${SHA256_ABC}`, "did you mean sha256?"],
    [`SHA-265=${SHA256_ABC}`, "did you mean sha256?"],
    [`shaa1:${SHA1_ABC}`, "did you mean sha1?"],
    [`blak3:${VECTORS.blake3.abc}`, "did you mean blake3?"],
    [`xxh124:${VECTORS.xxh128.abc}`, "did you mean xxh128?"],
    [`crc32x:364b3fb7`, "did you mean crc32"],
    [`sha384:${SHA512_ABC}`, "supported: sha256, sha512"],
    ["whirlpool:abcd", "unknown algorithm"],
    [":abcd", 'unknown algorithm ""'],
    [`sha256:${SHA256_ABC.slice(0, 63)}g`, "sha256 digest must be hexadecimal"],
    ["md5:0x900150983cd24fb0d6963f7d28e17f", "must be hexadecimal"],
    ["crc32:-1", "must be hexadecimal"],
    [`sha256:${SHA256_ABC.slice(1)}`, "sha256 expects 64 hex digits, got 63 in"],
    [`sha256:${SHA256_ABC}0`, "sha256 expects 64 hex digits, got 65 in"],
    ["sha256:", "sha256 expects 64 hex digits, got 0 in"],
    [`sha1:${SHA256_ABC}`, "sha1 expects 40 hex digits, got 64 in"],
    ["xxh3:78af5f94892f39", "xxh3 expects 16 hex digits, got 14 in"],
    ["crc32c:0364b3fb7", "crc32c expects 8 hex digits, got 9 in"],
    [`sha256: ${SHA256_ABC}`, "expects 64 hex digits, got 0"],
    ["78af5f94892f3950", "cannot tell the algorithm from 16 hex digits"],
    [SHA256_ABC.slice(2), "cannot tell the algorithm from 62 hex digits"],
    ["sha256", "expected ALGO:HEX or a hex digest"],
    [`zz${SHA256_ABC.slice(2)}  file`, "expected ALGO:HEX or a hex digest"],
    [`${SHA256_ABC}  a\n${SHA256_ABC}  b`, "expected one checksum line"],
  ];
  test.each(rejected)("%p -> %p", (input, fragment) => {
    const error = usageErrorOf(input);
    expect(error.flag).toBe("--checksum");
    expect(error.input).toBe(input);
    expect(error.exitCode).toBe(EXIT.USAGE);
    expect(error.message).toStartWith("--checksum: ");
    expect(error.message).toContain(JSON.stringify(input));
    expect(error.message).toContain(fragment);
    expect(error.message).not.toContain("\n");
  });

  test("wrong length keeps expected and actual as data", () => {
    expect(usageErrorOf("md5:abc")).toMatchObject({ expected: "32", actual: "3" });
  });

  test("far-off names list the supported algorithms instead of guessing", () => {
    expect(() => parseChecksum("whirlpool:abcd")).toThrow(`supported: ${CHECKSUM_ALGORITHMS.join(", ")}`);
  });
});

describe("createHasher known answers", () => {
  test.each(CHECKSUM_ALGORITHMS.map((algorithm) => [algorithm]))("%s", async (algorithm) => {
    const want = VECTORS[algorithm];
    expect(await hashOf(algorithm)).toBe(want.empty);
    expect(await hashOf(algorithm, new Uint8Array(0))).toBe(want.empty);
    expect(await hashOf(algorithm, bytes("abc"))).toBe(want.abc);
    expect(await hashOf(algorithm, bytes("a"), new Uint8Array(0), bytes("bc"))).toBe(want.abc);
    expect(await hashOf(algorithm, big)).toBe(want.big);
    // A view into a larger buffer must hash only its own bytes.
    expect(await hashOf(algorithm, new Uint8Array(bytes("xabcx").buffer, 1, 3))).toBe(want.abc);
  });

  test("CRC catalogue check values on 123456789", async () => {
    expect(await hashOf("crc32", bytes("123456789"))).toBe("cbf43926");
    expect(await hashOf("crc32c", bytes("123456789"))).toBe("e3069283");
  });

  test("digestHex is stable; update after it is a programming error", async () => {
    for (const algorithm of ["sha256", "blake3"] as const) {
      const hasher = await createHasher(algorithm);
      hasher.update(bytes("abc"));
      expect(hasher.digestHex()).toBe(VECTORS[algorithm].abc);
      expect(hasher.digestHex()).toBe(VECTORS[algorithm].abc);
      expect(() => hasher.update(bytes("x"))).toThrow("update() after digestHex()");
    }
  });

  test("concurrent wasm hashers of one algorithm do not share state", async () => {
    const [a, b] = await Promise.all([createHasher("xxh128"), createHasher("xxh128")]);
    a.update(bytes("a"));
    b.update(bytes("x"));
    a.update(bytes("bc"));
    expect(a.digestHex()).toBe(VECTORS.xxh128.abc);
    expect(b.digestHex()).not.toBe(VECTORS.xxh128.abc);
  });
});

describe("incremental equals one-shot", () => {
  test.each(CHECKSUM_ALGORITHMS.map((algorithm) => [algorithm]))("%s", async (algorithm) => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4096 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (data, cutSeeds) => {
          const cuts = [...new Set(cutSeeds.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
          const bounds = [0, ...cuts, data.length];
          const chunks = bounds.slice(1).map((end, i) => data.subarray(bounds[i], end));
          expect(await hashOf(algorithm, ...chunks)).toBe(await hashOf(algorithm, data));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("digestsMatch", () => {
  const cases: [a: string, b: string, same: boolean][] = [
    [SHA256_ABC, SHA256_ABC.toUpperCase(), true],
    ["ABCdef01", "abcDEF01", true],
    ["", "", true],
    ["abcdef01", "abcdef02", false],
    ["abcdef01", "abcdef0", false],
  ];
  test.each(cases)("%p vs %p -> %p", (a, b, same) => {
    expect(digestsMatch(a, b)).toBe(same);
    expect(digestsMatch(b, a)).toBe(same);
  });
});
