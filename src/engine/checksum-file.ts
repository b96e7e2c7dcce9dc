import type { ChecksumAlgorithm } from "./checksum.ts";

/** One line of a published list of sums. */
export interface ChecksumEntry {
  readonly algorithm: ChecksumAlgorithm;
  /** Lower-case hex. */
  readonly hex: string;
  /** The file name the line names, as written (never used as a path); "" when the line names none. */
  readonly name: string;
}

/** Algorithms of a bare digest, by its hex length (as the *sum tools write them). */
const BY_LENGTH: ReadonlyMap<number, ChecksumAlgorithm> = new Map([
  [32, "md5"],
  [40, "sha1"],
  [64, "sha256"],
  [128, "sha512"],
]);

/** BSD tags (`shasum --tag`, `openssl dgst`, `sha256 -r`): the name before ` (`. */
const BSD_TAGS: ReadonlyMap<string, ChecksumAlgorithm> = new Map([
  ["md5", "md5"],
  ["sha1", "sha1"],
  ["sha256", "sha256"],
  ["sha2-256", "sha256"],
  ["sha512", "sha512"],
  ["sha2-512", "sha512"],
]);

/** GNU: `HEX  NAME` (text) or `HEX *NAME` (binary); a leading `\` means NAME is escaped (`\\`, `\n`). */
const GNU = /^(\\?)([0-9a-fA-F]+)(?:\s+\*?(.*))?$/;
/** BSD: `SHA256 (NAME) = HEX`. */
const BSD = /^([A-Za-z0-9-]+)\s*\((.*)\)\s*=\s*([0-9a-fA-F]+)$/;

/**
 * Parses a sha256sum / sha512sum / md5sum list, a BSD-style list (`SHA256 (NAME) = HEX`), or a file holding
 * one bare digest (NAME.sha256 files often do). Blank lines and `#` comments are skipped; lines that fit no
 * form, or whose digest length fits no algorithm, are ignored (lists carry signatures and headers). Pure.
 */
export function parseChecksumList(text: string): ChecksumEntry[] {
  const entries: ChecksumEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const bsd = BSD.exec(line);
    if (bsd !== null) {
      const algorithm = BSD_TAGS.get((bsd[1] ?? "").toLowerCase());
      const hex = (bsd[3] ?? "").toLowerCase();
      if (algorithm !== undefined && BY_LENGTH.get(hex.length) === algorithm)
        entries.push({ algorithm, hex, name: bsd[2] ?? "" });
      continue;
    }
    const gnu = GNU.exec(line);
    if (gnu === null) continue;
    const hex = (gnu[2] ?? "").toLowerCase();
    const algorithm = BY_LENGTH.get(hex.length);
    if (algorithm === undefined) continue;
    const name = gnu[1] === "\\" ? unescapeName(gnu[3] ?? "") : (gnu[3] ?? "");
    entries.push({ algorithm, hex, name });
  }
  return entries;
}

/**
 * The entry for the first of `names` (compared by base name, `./` and directories ignored) that has one; a
 * list of exactly one line that names no file is that file's. Undefined when none fits. Pure.
 */
export function pickEntry(
  entries: readonly ChecksumEntry[],
  names: readonly string[],
): ChecksumEntry | undefined {
  for (const name of names) {
    if (name === "") continue;
    const found = entries.find((e) => baseName(e.name) === name);
    if (found !== undefined) return found;
  }
  const only = entries[0];
  return entries.length === 1 && only !== undefined && only.name === "" ? only : undefined;
}

/** The last path segment of a name as a list writes it (`./dir/x.iso` → `x.iso`). */
export function baseName(name: string): string {
  return name.slice(name.lastIndexOf("/") + 1);
}

function unescapeName(name: string): string {
  return name.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}
