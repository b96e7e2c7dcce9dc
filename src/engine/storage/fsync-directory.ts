import { closeSync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";

/**
 * fsyncs the directory holding `path`, so a rename into it survives a power cut (POSIX leaves directory
 * entries in the page cache otherwise). Best effort: some filesystems refuse fsync on directories.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), "r");
    fsyncSync(fd);
  } catch {
    // Not every filesystem allows it (e.g. some network mounts); the data itself was already fsynced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
