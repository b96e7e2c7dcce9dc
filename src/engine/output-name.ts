import { basename } from "node:path";

/**
 * Longest output name dlm picks, in bytes: 255 (NAME_MAX of Linux and most file systems) less the ".dlm" of
 * the sidecar directory beside it. The names inside the sidecar are short and fixed.
 */
export const MAX_NAME_BYTES = 255 - ".dlm".length;
/** Longest tail after the last dot that counts as an extension (kept when a name is shortened). */
const MAX_EXTENSION_CHARS = 16;

/**
 * True when `name` is a plain file name: no directory parts, no control characters, not hidden or special
 * (`.`, `..`, leading dot), not too long. Names from the server (Content-Disposition) are used only if so.
 */
export function isPlainFileName(name: string): boolean {
  if (name === "" || name.startsWith(".")) return false;
  if (/[/\\\p{Cc}\p{Cf}]/u.test(name)) return false;
  if (name.trim() !== name) return false;
  return byteLength(name) <= MAX_NAME_BYTES;
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
  return fitName(cleaned);
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
  if (dispositionName !== undefined && basename(dispositionName) === dispositionName) {
    const fitted = fitName(dispositionName);
    if (isPlainFileName(fitted)) return fitted;
  }
  return nameFromUrl(requestedUrl) ?? nameFromUrl(finalUrl) ?? "download";
}

/**
 * `name` cut to at most `maxBytes` of UTF-8, keeping its extension (".tar.gz" keeps ".gz"): a name the
 * server chose too long for the file system becomes a usable one instead of a storage error. Cuts between
 * code points, never inside one. A name that fits is returned unchanged.
 */
export function fitName(name: string, maxBytes = MAX_NAME_BYTES): string {
  if (byteLength(name) <= maxBytes) return name;
  const dot = name.lastIndexOf(".");
  const extension =
    dot > 0 && name.length - dot - 1 <= MAX_EXTENSION_CHARS && !/\s/.test(name.slice(dot))
      ? name.slice(dot)
      : "";
  const stem = Array.from(name.slice(0, name.length - extension.length));
  const room = maxBytes - byteLength(extension);
  let bytes = byteLength(stem.join(""));
  while (stem.length > 0 && bytes > room) bytes -= byteLength(stem.pop() ?? "");
  return `${stem.join("").trimEnd()}${extension}`;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}
