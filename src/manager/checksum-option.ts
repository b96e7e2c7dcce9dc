import { type ExpectedChecksum, parseChecksum } from "../engine/checksum.ts";
import { assertFetchableUrl } from "../engine/url-scheme.ts";

/** Prefix of a stored checksum that names a sums list (Add's `checksum_file`) rather than a digest. */
export const SUMS_PREFIX = "sums=";

/** What a stored checksum asks for, as DownloadRequest fields. */
export interface ChecksumOption {
  readonly checksum: ExpectedChecksum | undefined;
  readonly checksumFile?: string | undefined;
  readonly checksumAuto?: boolean | undefined;
}

/**
 * Reads a download's stored checksum text: "ALGO:HEX" (as `--checksum`), "auto" (as `--checksum auto`), or
 * "sums=URL" (Add's `checksum_file`: an http(s) URL only — an API client never names a local path). Throws
 * UsageError on anything else; Add calls it to refuse bad input before storing it.
 */
export function checksumOptionOf(text: string | undefined): ChecksumOption {
  if (text === undefined) return { checksum: undefined };
  if (text === "auto") return { checksum: undefined, checksumAuto: true };
  if (text.startsWith(SUMS_PREFIX)) {
    const url = assertFetchableUrl(text.slice(SUMS_PREFIX.length), "checksum_file").href;
    return { checksum: undefined, checksumFile: url };
  }
  return { checksum: parseChecksum(text) };
}
