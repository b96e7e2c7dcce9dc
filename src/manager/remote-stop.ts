import type { CommandContext } from "./command-context.ts";
import { ACTIVE_STATES, type DownloadRecord } from "./download-record.ts";

/** How long Pause, Remove and a new URL wait for another node to stop a download it runs, ms. */
export const REMOTE_STOP_WAIT_MS = 10_000;

/** True when a node other than `node` holds the download's lease. */
export function runsElsewhere(record: DownloadRecord, node: string): boolean {
  return ACTIVE_STATES.has(record.state) && record.node !== undefined && record.node !== node;
}

/**
 * Asks the node that runs `id` to pause it (through the store) and waits, at most REMOTE_STOP_WAIT_MS,
 * for the stored event that says it stopped.
 */
export async function stopElsewhere(parts: CommandContext, id: number): Promise<void> {
  let settle: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const unsubscribe = parts.subscribe((message) => {
    if (message.kind !== "stored" || message.event.downloadId !== id) return;
    if (message.event.kind === "removed" || !ACTIVE_STATES.has(message.event.record.state)) settle();
  });
  const timer = setTimeout(settle, REMOTE_STOP_WAIT_MS);
  try {
    if (!(await parts.store.requestPause(id))) return;
    const now = await parts.store.get(id);
    if (now === undefined || !runsElsewhere(now, parts.node)) return;
    await stopped;
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
}
