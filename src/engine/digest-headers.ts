import type { ChecksumAlgorithm } from "./checksum.ts";

/** A digest of the whole file a response header states. */
export interface HeaderDigest {
  readonly algorithm: ChecksumAlgorithm;
  /** Lower-case hex. */
  readonly hex: string;
  /** The header it came from, for messages and `--json`: `Repr-Digest`, `x-goog-hash`... */
  readonly header: string;
}

/** RFC 9530 §5 / IANA Hash Algorithms for HTTP Digest Fields: the names dlm can check. */
const REPR_ALGORITHMS: ReadonlyMap<string, ChecksumAlgorithm> = new Map([
  ["sha-256", "sha256"],
  ["sha-512", "sha512"],
]);

/** RFC 3230's `Digest` names (case-insensitive); MD5 is deprecated there but still what many servers send. */
const LEGACY_ALGORITHMS: ReadonlyMap<string, ChecksumAlgorithm> = new Map([
  ["sha-256", "sha256"],
  ["sha-512", "sha512"],
  ["md5", "md5"],
]);

/** Which digest to check when a response states several: the strongest Bun hashes natively first. */
const PREFERENCE: readonly ChecksumAlgorithm[] = ["sha256", "sha512", "md5", "crc32c"];

/**
 * Digests of the whole file that `headers` state, best first (see PREFERENCE):
 * - `Repr-Digest` (RFC 9530 §3): a structured-field dictionary of byte sequences, `sha-256=:BASE64:`; it is
 *   the digest of the selected representation, so a 206's still describes the whole file. (`Content-Digest`
 *   describes only the bytes of that response and is not used.)
 * - `Digest` (RFC 3230 §4.3.2, obsoleted by RFC 9530 but still sent): `SHA-256=BASE64`, `MD5=BASE64`.
 * - `x-amz-checksum-sha256` (S3): only a full-object checksum; a multipart composite (`BASE64-N`, or
 *   `x-amz-checksum-type: COMPOSITE`) is a checksum of part checksums, not of the file.
 * - `x-goog-hash` (GCS): `crc32c=BASE64, md5=BASE64` (an object composed of parts has no md5).
 * Malformed values are skipped. Pure.
 */
export function digestsFromHeaders(headers: Headers): HeaderDigest[] {
  const found: HeaderDigest[] = [];
  const add = (header: string, algorithm: ChecksumAlgorithm | undefined, base64: string) => {
    const hex = algorithm === undefined ? undefined : base64ToHex(base64, algorithm);
    if (algorithm !== undefined && hex !== undefined) found.push({ algorithm, hex, header });
  };
  for (const [key, value] of dictionary(headers.get("repr-digest"))) {
    const bytes = /^:([A-Za-z0-9+/=]*):$/.exec(value);
    if (bytes !== null) add("Repr-Digest", REPR_ALGORITHMS.get(key), bytes[1] ?? "");
  }
  for (const [key, value] of dictionary(headers.get("digest")))
    add("Digest", LEGACY_ALGORITHMS.get(key), value);
  const amz = headers.get("x-amz-checksum-sha256")?.trim();
  const type = headers.get("x-amz-checksum-type")?.trim().toUpperCase();
  if (amz !== undefined && type !== "COMPOSITE" && !/-\d+$/.test(amz))
    add("x-amz-checksum-sha256", "sha256", amz);
  for (const [key, value] of dictionary(headers.get("x-goog-hash"))) {
    if (key === "md5" || key === "crc32c") add("x-goog-hash", key, value);
  }
  return found.sort((a, b) => PREFERENCE.indexOf(a.algorithm) - PREFERENCE.indexOf(b.algorithm));
}

/** `k=v, k=v` members (a header may repeat: Headers joins with ", "); keys lower-cased, parameters dropped. */
function dictionary(value: string | null): [string, string][] {
  if (value === null) return [];
  const members: [string, string][] = [];
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    // RFC 8941 §3.2: parameters follow `;` — none are defined for digests; ignore them.
    const v = (part.slice(eq + 1).split(";")[0] ?? "").trim();
    members.push([key, v]);
  }
  return members;
}

/** Digest bytes of each algorithm a header may carry. */
const DIGEST_BYTES: Partial<Record<ChecksumAlgorithm, number>> = {
  sha256: 32,
  sha512: 64,
  md5: 16,
  crc32c: 4,
};

/** Hex of a base64 digest of the algorithm's exact length, or undefined when it is not one. */
function base64ToHex(base64: string, algorithm: ChecksumAlgorithm): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
  const bytes = Buffer.from(base64, "base64");
  return bytes.length === DIGEST_BYTES[algorithm] ? bytes.toString("hex") : undefined;
}
