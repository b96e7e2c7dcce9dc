import type { CommandContext } from "./command-context.ts";

/** Puts paused, failed and retrying downloads back in the queue (failure and attempts reset), then plans. */
export async function resumeDownloads(parts: CommandContext, ids: readonly number[]): Promise<void> {
  for (const id of ids) {
    const record = await parts.store.get(id);
    if (record?.state === "paused" || record?.state === "failed" || record?.state === "retrying") {
      await parts.change(id, { state: "queued", failure: undefined, nextTryAt: undefined, attempts: 0 });
    }
  }
  parts.schedule();
}
