import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { StateFileError } from "../errors.ts";
import { isChecksumAlgorithm, parseChecksum } from "./checksum.ts";
import type { Segment } from "./segment.ts";
import { checkSidecarTrust } from "./sidecar-trust.ts";
import { fsyncDirectory } from "./storage/fsync-directory.ts";
import { OPEN } from "./storage/no-follow.ts";
import type { StorageKind } from "./storage/sink.ts";
import { guardStorage } from "./storage/storage-error.ts";

/** The only state-file version this build reads and writes. */
export const STATE_VERSION = 1;

/** Contents of `FILE.dlm/state.json`: what is needed to continue a download and nothing unflushed. */
export interface DownloadStateFile {
  readonly version: typeof STATE_VERSION;
  /** URL as the user gave it. */
  readonly url: string;
  /** Output path as given (relative to where dlm ran, or absolute). */
  readonly output: string;
  /** Size of the remote file; absent when the server never said. */
  readonly totalBytes?: number;
  /** Inclusive slice asked with --range-start/--range-end; absent for the whole file. */
  readonly slice?: { readonly start: number; readonly end: number };
  readonly acceptsRanges: boolean;
  readonly validator: { readonly etag?: string; readonly lastModified?: string };
  readonly checksum?: { readonly algorithm: string; readonly hex: string };
  readonly storage: StorageKind;
  /** `done` counts bytes that were fsynced before this state was written. */
  readonly segments: readonly Segment[];
  /** More URLs of the same file (mirrors, as given), used again on resume; absent = none. */
  readonly mirrors?: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Path of the state file inside a sidecar directory. */
export function statePath(sidecar: string): string {
  return join(sidecar, "state.json");
}

/** The last write queued per state.json path; settles (never rejects) when that write is over. */
const queued = new Map<string, Promise<void>>();

/**
 * Writes the state atomically: temp file, fsync, rename over state.json, and (with `syncDirectory`, the
 * default) fsync the directory. A crash at any point leaves either the old or the new state, never a torn
 * one. Without the directory fsync a power cut may bring back the previous state.json: still valid, it
 * vouches for less; periodic checkpoints take that trade to stay cheap, a pause or an end does not.
 * Writes to one path run one at a time, in call order (so the last call wins): two at once would share the
 * temp file and one rename would fail with ENOENT, which happens when a checkpoint outlasts the interval
 * (slow fsync) or meets the final one.
 */
export async function writeStateFile(
  sidecar: string,
  state: DownloadStateFile,
  options: { readonly syncDirectory?: boolean } = {},
): Promise<void> {
  const target = statePath(sidecar);
  const text = `${JSON.stringify(state, undefined, 2)}\n`;
  const write = (queued.get(target) ?? Promise.resolve()).then(() =>
    writeNow(target, text, options.syncDirectory ?? true),
  );
  const settled = write.then(
    () => undefined,
    () => undefined,
  );
  queued.set(target, settled);
  try {
    await write;
  } finally {
    if (queued.get(target) === settled) queued.delete(target);
  }
}

async function writeNow(target: string, text: string, syncDirectory: boolean): Promise<void> {
  const temp = `${target}.tmp`;
  await guardStorage(temp, "write", async () => {
    // Created exclusively and without following links: a file or link already at the temp name (left by a
    // crash, or planted) is removed, never written through. The sidecar is 0700, so only this user can race.
    await unlink(temp).catch((error: { code?: string }) => {
      if (error.code !== "ENOENT") throw error;
    });
    const file = await open(temp, OPEN.createWrite, 0o600);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
  });
  if (syncDirectory) await fsyncDirectory(target);
}

/**
 * Reads and validates state.json of a sidecar this user made (see sidecar-trust.ts); every problem is a
 * `StateFileError` naming the file and the field (or why the sidecar is not trusted).
 */
export async function readStateFile(sidecar: string): Promise<DownloadStateFile> {
  await checkSidecarTrust(sidecar);
  const path = statePath(sidecar);
  let text: string;
  try {
    const file = await open(path, OPEN.read);
    try {
      text = await file.readFile("utf8");
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new StateFileError(`${path}: cannot read (${(error as { code?: string }).code ?? String(error)})`, {
      file: path,
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(`${path}: not valid JSON (${(error as Error).message})`, {
      file: path,
      cause: error,
    });
  }
  return validateState(json, path);
}

/** Checks a parsed state object field by field; pure, exported for table tests. */
export function validateState(json: unknown, path: string): DownloadStateFile {
  const fail = (field: string, expected: string, actual: unknown): never => {
    throw new StateFileError(
      `${path}: ${field}: expected ${expected}, got ${JSON.stringify(actual) ?? "nothing"}`,
      {
        file: path,
        expected,
        actual: JSON.stringify(actual),
      },
    );
  };
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return fail("(root)", "an object", json);
  const o = json as Record<string, unknown>;
  if (o["version"] !== STATE_VERSION) return fail("version", String(STATE_VERSION), o["version"]);
  const url = o["url"];
  if (typeof url !== "string" || !URL.canParse(url)) return fail("url", "a URL", url);
  const output = o["output"];
  if (typeof output !== "string" || output === "") return fail("output", "a file path", output);
  const total = o["totalBytes"];
  if (total !== undefined && !isByteCount(total)) return fail("totalBytes", "a byte count", total);
  const acceptsRanges = o["acceptsRanges"];
  if (typeof acceptsRanges !== "boolean") return fail("acceptsRanges", "true or false", acceptsRanges);
  const storage = o["storage"];
  if (storage !== "parts" && storage !== "in-place") return fail("storage", '"parts" or "in-place"', storage);
  const validator = o["validator"];
  if (typeof validator !== "object" || validator === null) return fail("validator", "an object", validator);
  const v = validator as Record<string, unknown>;
  for (const key of ["etag", "lastModified"]) {
    if (v[key] !== undefined && typeof v[key] !== "string")
      return fail(`validator.${key}`, "a string", v[key]);
  }
  const checksum = o["checksum"];
  if (checksum !== undefined) {
    const c = checksum as Record<string, unknown>;
    if (
      typeof c !== "object" ||
      c === null ||
      typeof c["algorithm"] !== "string" ||
      typeof c["hex"] !== "string"
    ) {
      return fail("checksum", "{ algorithm, hex }", checksum);
    }
    // An edited algorithm or digest would otherwise pass here and crash when the hasher is created.
    if (!isValidChecksum(c["algorithm"], c["hex"])) {
      return fail("checksum", "a supported algorithm with a lowercase hex digest of its length", checksum);
    }
  }
  const slice = o["slice"];
  if (slice !== undefined) {
    const s = slice as Record<string, unknown>;
    if (
      typeof s !== "object" ||
      s === null ||
      !isByteCount(s["start"]) ||
      !isByteCount(s["end"]) ||
      s["end"] < s["start"]
    ) {
      return fail("slice", "{ start, end } with start <= end", slice);
    }
  }
  const segments = o["segments"];
  if (!Array.isArray(segments)) return fail("segments", "an array", segments);
  const seen = new Set<number>();
  const parsed: Segment[] = [];
  for (const [index, raw] of (segments as unknown[]).entries()) {
    const s = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const at = `segments[${index}]`;
    const { id, start, end, done } = s;
    if (!isByteCount(id) || seen.has(id)) return fail(`${at}.id`, "a unique non-negative integer", id);
    if (!isByteCount(start)) return fail(`${at}.start`, "a byte offset", start);
    if (!isByteCount(end) || end < start) return fail(`${at}.end`, `a byte offset >= start (${start})`, end);
    if (total !== undefined && end >= (total as number))
      return fail(`${at}.end`, `< totalBytes (${total})`, end);
    if (!isByteCount(done) || done > end - start + 1)
      return fail(`${at}.done`, `0..${end - start + 1}`, done);
    seen.add(id);
    parsed.push({ id, start, end, done });
  }
  const ordered = [...parsed].sort((a, b) => a.start - b.start);
  for (let i = 1; i < ordered.length; i++) {
    const previous = ordered[i - 1];
    const current = ordered[i];
    if (previous !== undefined && current !== undefined && current.start <= previous.end) {
      fail(`segments (id ${current.id})`, `ranges that do not overlap segment ${previous.id}`, current.start);
    }
  }
  if (typeof total === "number") {
    // The segments must tile the download exactly: bytes in a gap would never be fetched, and the resume
    // would only fail at the very end, with a size mismatch.
    const s = slice as { start: number; end: number } | undefined;
    const first = s?.start ?? 0;
    const last = s?.end ?? total - 1;
    let next = first;
    for (const segment of ordered) {
      if (segment.start !== next)
        fail(`segments (id ${segment.id})`, `a segment starting at ${next}`, segment.start);
      next = segment.end + 1;
    }
    if (next !== last + 1) fail("segments", `segments covering bytes ${first}-${last}`, `up to ${next - 1}`);
  }
  for (const key of ["createdAt", "updatedAt"]) {
    if (typeof o[key] !== "string") return fail(key, "an ISO date", o[key]);
  }
  const mirrors = o["mirrors"];
  if (mirrors !== undefined) {
    const ok =
      Array.isArray(mirrors) &&
      mirrors.every((m) => typeof m === "string" && URL.canParse(m) && /^https?:$/.test(new URL(m).protocol));
    if (!ok) return fail("mirrors", "an array of http(s) URLs", mirrors);
  }
  return { ...(o as unknown as DownloadStateFile), segments: parsed };
}

function isValidChecksum(algorithm: string, hex: string): boolean {
  if (!isChecksumAlgorithm(algorithm) || !/^[0-9a-f]+$/.test(hex)) return false;
  try {
    return parseChecksum(`${algorithm}:${hex}`).hex === hex;
  } catch {
    return false;
  }
}

function isByteCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
