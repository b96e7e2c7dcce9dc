import { open } from "node:fs/promises";
import { dirname } from "node:path";

/** Per directory: the fsync running now, and the one that will run after it for callers that came later. */
interface DirectorySyncs {
  running: Promise<void>;
  next: Promise<void> | undefined;
}

const syncs = new Map<string, DirectorySyncs>();

/**
 * fsyncs the directory holding `path`, so a rename into it survives a power cut (POSIX leaves directory
 * entries in the page cache otherwise). Best effort: some filesystems refuse fsync on directories. Runs off
 * the event loop (a checkpoint's journal commit must not stall the workers' reads).
 * Calls for one directory share fsyncs: a call while one runs waits for the next, which starts when the
 * running one ends and covers every call made meanwhile (their renames came before it started). A batch
 * finishing many files in one directory pays a fraction of one fsync per file.
 */
export function fsyncDirectory(path: string): Promise<void> {
  const dir = dirname(path);
  const current = syncs.get(dir);
  if (current === undefined) {
    const entry: DirectorySyncs = { running: syncNow(dir), next: undefined };
    syncs.set(dir, entry);
    void entry.running.then(() => advance(dir, entry));
    return entry.running;
  }
  current.next ??= current.running.then(() => syncNow(dir));
  return current.next;
}

/** The running fsync ended: the pending one (if any) becomes the running one, else the entry goes. */
function advance(dir: string, entry: DirectorySyncs): void {
  const next = entry.next;
  if (next === undefined) {
    syncs.delete(dir);
    return;
  }
  entry.running = next;
  entry.next = undefined;
  void next.then(() => advance(dir, entry));
}

async function syncNow(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every filesystem allows it (e.g. some network mounts); the data itself was already fsynced.
  }
}
