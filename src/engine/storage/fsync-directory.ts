import { open } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * fsyncs the directory holding `path`, so a rename into it survives a power cut (POSIX leaves directory
 * entries in the page cache otherwise). Best effort: some filesystems refuse fsync on directories. Runs off
 * the event loop (a checkpoint's journal commit must not stall the workers' reads).
 */
export async function fsyncDirectory(path: string): Promise<void> {
  try {
    const dir = await open(dirname(path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Not every filesystem allows it (e.g. some network mounts); the data itself was already fsynced.
  }
}
