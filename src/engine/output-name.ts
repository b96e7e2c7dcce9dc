import { basename } from "node:path";

/** Longest name most filesystems accept, in bytes. */
const MAX_NAME_BYTES = 255;

/**
 * True when `name` is a plain file name: no directory parts, no control characters, not hidden or special
 * (`.`, `..`, leading dot), not too long. Names from the server (Content-Disposition) are used only if so.
 */
export function isPlainFileName(name: string): boolean {
  if (name === "" || name.startsWith(".")) return false;
  if (/[/\\\p{Cc}\p{Cf}]/u.test(name)) return false;
  if (name.trim() !== name) return false;
  return new TextEncoder().encode(name).length <= MAX_NAME_BYTES;
}

/**
 * A safe file name from the last path segment of a URL: percent-decoded, path separators and control
 * characters replaced, leading dots dropped. `undefined` when nothing usable remains.
 */
export function nameFromUrl(url: string): string | undefined {
  let segment: string;
  try {
    const path = new URL(url).pathname;
    segment = path.slice(path.lastIndexOf("/") + 1);
  } catch {
    return undefined;
  }
  try {
    segment = decodeURIComponent(segment);
  } catch {
    // Malformed escapes: keep the raw segment rather than fail the download over a name.
  }
  const cleaned = segment
    .replace(/[/\\\p{Cc}\p{Cf}]/gu, "_")
    .replace(/^[.\s]+/, "")
    .trim();
  if (cleaned === "") return undefined;
  return truncateBytes(cleaned, MAX_NAME_BYTES);
}

/**
 * Picks the output file name when `-o` is absent: a plain Content-Disposition name, else the last segment
 * of the requested URL, else of the final URL, else `download`.
 */
export function chooseOutputName(
  requestedUrl: string,
  finalUrl: string,
  dispositionName: string | undefined,
): string {
  if (dispositionName !== undefined) {
    const plain = basename(dispositionName);
    if (plain === dispositionName && isPlainFileName(plain)) return plain;
  }
  return nameFromUrl(requestedUrl) ?? nameFromUrl(finalUrl) ?? "download";
}

function truncateBytes(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  let result = text;
  while (encoder.encode(result).length > maxBytes) result = result.slice(0, -1);
  return result;
}
