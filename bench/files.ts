import { mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileOf } from "../test/helpers/bytes.ts";

/** A served file: where it is and its SHA-256 (lower-case hex). */
export interface BenchFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

const HASH_CHUNK = 4 * 1024 * 1024;

/**
 * Returns the deterministic file of `size` bytes (test/helpers/bytes.ts content, seed 1) in `dir`, writing it
 * only when it is missing. Its digest comes from a streaming hash of the file as written and is kept next to
 * it (`NAME.sha256`), so a 1 GiB file is generated and hashed once per machine, not once per run.
 */
export async function ensureFile(dir: string, size: number): Promise<BenchFile> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `bench-${size}.bin`);
  const sidecar = `${path}.sha256`;
  const known = await readFile(sidecar, "utf8").catch(() => "");
  const onDisk = await stat(path).catch(() => undefined);
  if (/^[0-9a-f]{64}$/.test(known.trim()) && onDisk?.size === size) {
    return { path, size, sha256: known.trim() };
  }
  // Written under a temporary name, so an interrupted generation never leaves a file that looks done.
  // The pid keeps two bench runs that start together from writing the same temporary file.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFileOf(tmp, size);
  await rename(tmp, path);
  const { sha256 } = await hashFile(path);
  await writeFile(sidecar, `${sha256}\n`);
  return { path, size, sha256 };
}

/**
 * Streaming SHA-256 of a file (Bun.CryptoHasher, one reused 4 MiB buffer) and how long it took in seconds,
 * which is what a user pays to check a download that the tool did not verify itself.
 */
export async function hashFile(path: string): Promise<{ sha256: string; seconds: number }> {
  const started = performance.now();
  const hasher = new Bun.CryptoHasher("sha256");
  const handle = await open(path, "r");
  try {
    const buf = new Uint8Array(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hasher.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return { sha256: hasher.digest("hex"), seconds: (performance.now() - started) / 1000 };
}
