import type { ChecksumAlgorithm } from "./checksum.ts";

/** What a finished download reports. */
export interface VerifiedFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The `--checksum` algorithm and digest that was compared, when one was given. */
  readonly checked:
    | { readonly algorithm: string; readonly hex: string; readonly source?: string | undefined }
    | undefined;
  /**
   * `verified`: the size the server announced (or a `--checksum`) proved the file whole. `unverified`: the
   * server sent no size and no checksum was given, so the body's end was taken as the file's end; a
   * connection cut at the wrong moment looks the same (Bun's fetch ends such a body normally on a reset).
   */
  readonly completeness: "verified" | "unverified";
}

/** The digests one download computes: SHA-256 always, plus the `--checksum` algorithm if it is another. */
export function algorithmsFor(checksum: { readonly algorithm: string } | undefined): ChecksumAlgorithm[] {
  const algorithms: ChecksumAlgorithm[] = ["sha256"];
  if (checksum !== undefined && checksum.algorithm !== "sha256")
    algorithms.push(checksum.algorithm as ChecksumAlgorithm);
  return algorithms;
}
