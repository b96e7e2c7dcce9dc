import type { CommandContext } from "./command-context.ts";
import { runsElsewhere, stopElsewhere } from "./remote-stop.ts";

/**
 * Pauses downloads: running ones stop (state saved; one being started is waited for, then stopped),
 * waiting ones stay put, those another node runs are paused there (waited for, bounded).
 */
export async function pauseDownloads(parts: CommandContext, ids: readonly number[]): Promise<void> {
  for (const id of ids) {
    const job = await parts.jobs.settled(id);
    if (job !== undefined) {
      // A download being verified cannot pause: it ends as it ends.
      job.controller.stop({ kind: "pause" }, "manager");
      await job.done;
      continue;
    }
    const record = await parts.store.get(id);
    if (record?.state === "queued" || record?.state === "retrying") {
      await parts.change(id, { state: "paused", nextTryAt: undefined });
    } else if (record !== undefined && runsElsewhere(record, parts.node)) {
      await stopElsewhere(parts, id);
    }
  }
}
