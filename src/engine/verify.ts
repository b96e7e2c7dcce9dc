import { type ChecksumAlgorithm, createHasher, type IncrementalHasher } from "./checksum.ts";

/** What a finished download reports. */
export interface VerifiedFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The `--checksum` algorithm and digest that was compared, when one was given. */
  readonly checked: { readonly algorithm: string; readonly hex: string } | undefined;
}

/** The hashers one download feeds: SHA-256 always, plus the `--checksum` algorithm if it is another. */
export interface DownloadHashers {
  readonly all: readonly IncrementalHasher[];
  readonly sha256: IncrementalHasher;
  readonly expected:
    | { readonly algorithm: ChecksumAlgorithm; readonly hex: string; readonly hasher: IncrementalHasher }
    | undefined;
}

/** Creates the hashers for a download whose expected checksum (from flag or state file) is `checksum`. */
export async function createHashers(
  checksum: { algorithm: string; hex: string } | undefined,
): Promise<DownloadHashers> {
  const sha256 = await createHasher("sha256");
  if (checksum === undefined) return { all: [sha256], sha256, expected: undefined };
  const algorithm = checksum.algorithm as ChecksumAlgorithm;
  const hasher = algorithm === "sha256" ? sha256 : await createHasher(algorithm);
  return {
    all: hasher === sha256 ? [sha256] : [sha256, hasher],
    sha256,
    expected: { algorithm, hex: checksum.hex, hasher },
  };
}
