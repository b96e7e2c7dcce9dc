import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileOf } from "../test/helpers/bytes.ts";
import { hashFile } from "./files.ts";

/** One file of a batch: its name (also its URL path under the batch directory) and SHA-256. */
export interface BatchMember {
  readonly name: string;
  readonly sha256: string;
}

/** The files a batch scenario downloads, all of `size` bytes, in one directory. */
export interface BatchSet {
  readonly dir: string;
  readonly size: number;
  readonly members: readonly BatchMember[];
}

const MANIFEST = "SHA256SUMS";

/** `f-007.bin`: zero-padded so the names sort in list order. */
export function memberName(index: number, count: number): string {
  return `f-${String(index).padStart(Math.max(3, String(count - 1).length), "0")}.bin`;
}

/**
 * Returns `count` files of `size` bytes in `cacheDir/batch-COUNTxSIZE/`, generating them only when the
 * directory's manifest (`SHA256SUMS`, `HEX  NAME` per line, as sha256sum writes it) is missing or does not
 * match. File i has the content of test/helpers/bytes.ts with seed i, so each file differs from the others
 * (up to 256 files; the content only depends on seed & 0xff) and a tool that swapped two files fails.
 */
export async function ensureBatchSet(cacheDir: string, count: number, size: number): Promise<BatchSet> {
  const dir = join(cacheDir, `batch-${count}x${size}`);
  const names = Array.from({ length: count }, (_, i) => memberName(i, count));
  const cached = await readManifest(dir, names, size);
  if (cached !== undefined) return { dir, size, members: cached };
  await rm(dir, { recursive: true, force: true });
  // Built under a temporary name and renamed, so an interrupted generation never leaves a set that looks done.
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const members: BatchMember[] = [];
  for (const [i, name] of names.entries()) {
    await writeFileOf(join(tmp, name), size, i);
    members.push({ name, sha256: (await hashFile(join(tmp, name))).sha256 });
  }
  await writeFile(join(tmp, MANIFEST), members.map((m) => `${m.sha256}  ${m.name}\n`).join(""));
  await rename(tmp, dir);
  return { dir, size, members };
}

/** The manifest's members when it lists exactly `names` and every file has `size` bytes, else undefined. */
async function readManifest(dir: string, names: string[], size: number): Promise<BatchMember[] | undefined> {
  const text = await readFile(join(dir, MANIFEST), "utf8").catch(() => "");
  const members = text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => /^([0-9a-f]{64}) {2}(\S+)$/.exec(line))
    .map((m) => (m === null ? undefined : { sha256: m[1] ?? "", name: m[2] ?? "" }));
  if (members.length !== names.length || members.some((m, i) => m?.name !== names[i])) return undefined;
  for (const name of names) {
    if ((await stat(join(dir, name)).catch(() => undefined))?.size !== size) return undefined;
  }
  return members as BatchMember[];
}
