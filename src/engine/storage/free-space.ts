import { statfsSync } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { StorageError } from "../../errors.ts";
import type { StorageKind } from "./sink.ts";

/** What a download still has to put on disk, for {@link bytesToWrite}. */
export interface SpacePlan {
  readonly storage: StorageKind;
  /** Bytes of the output (the slice with --range-start/--range-end). */
  readonly outputBytes: number;
  /** Bytes already on disk for it: blocks of the in-place data file, or the sizes of the part files. */
  readonly storedBytes: number;
}

/**
 * Bytes the file system must still find for a download to finish: what is not stored yet, and with parts
 * storage also the assembly, which appends every part but the first onto it while the parts still exist
 * (up to a second copy of the file). In-place storage writes into its one file and needs no copy.
 */
export function bytesToWrite(plan: SpacePlan): number {
  const missing = Math.max(0, plan.outputBytes - plan.storedBytes);
  return plan.storage === "parts" ? missing + plan.outputBytes : missing;
}

/**
 * Fails at once, before the first byte, when the file system of `dir` has less free space (for this user:
 * `bavail`) than `needed` bytes: `StorageError` "needs 4.2 GiB, 1.1 GiB free on /home", naming the mount
 * point. Without it a sparse file defers the failure to the moment the disk fills, after minutes of
 * downloading. A file system that cannot say (statfs fails) is not checked.
 */
export async function ensureFreeSpace(dir: string, needed: number, file: string): Promise<void> {
  if (needed <= 0) return;
  let free: number;
  try {
    // On this thread: microseconds, where a thread-pool trip in a batch waits behind other files' fsyncs.
    const fs = statfsSync(dir);
    free = fs.bavail * fs.bsize;
  } catch {
    return;
  }
  if (free >= needed) return;
  const where = await mountPointOf(dir);
  throw new StorageError(
    `cannot write ${file}: needs ${formatSize(needed)}, ${formatSize(free)} free on ${where}`,
    { file, expected: String(needed), actual: String(free), hint: "free some space, or choose another -o" },
  );
}

/** Bytes of the in-place data file really on disk (allocated blocks: it is sparse), 0 when there is none. */
export async function allocatedBytes(path: string): Promise<number> {
  return lstat(path).then(
    (s) => Math.min(s.size, s.blocks * 512),
    () => 0,
  );
}

/** The top directory of the file system holding `dir`: where `df` would say the space is. */
async function mountPointOf(dir: string): Promise<string> {
  let current = dir;
  const device = (await stat(current)).dev;
  for (;;) {
    const parent = dirname(current);
    if (parent === current) return current;
    const parentDevice = await stat(parent).then(
      (s) => s.dev,
      () => undefined,
    );
    if (parentDevice !== device) return current;
    current = parent;
  }
}

/** Bytes in binary units with one decimal: "4.2 GiB", "512.0 MiB". */
function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
