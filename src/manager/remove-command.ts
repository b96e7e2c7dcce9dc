import { rm } from "node:fs/promises";
import { sidecarOf } from "../engine/prepare.ts";
import type { CommandContext } from "./command-context.ts";
import { deletableInside } from "./output-place.ts";
import { runsElsewhere, stopElsewhere } from "./remote-stop.ts";

/**
 * Forgets downloads; returns the ids removed. A running one stops first (one being started is waited for,
 * then stopped); one another node runs is paused there first. With `deleteFiles` the finished file or the
 * unfinished sidecar is deleted too, once its stored path is checked again to lie inside the download
 * directory; without, files stay (an unfinished one can still be continued by `dlm resume`).
 */
export async function removeDownloads(
  parts: CommandContext,
  ids: readonly number[],
  deleteFiles: boolean,
): Promise<number[]> {
  const removed: number[] = [];
  for (const id of ids) {
    const job = await parts.jobs.settled(id);
    if (job !== undefined) {
      job.controller.stop({ kind: "remove" }, "manager", { cancel: deleteFiles, replace: true });
      await job.done;
    }
    let record = await parts.store.get(id);
    if (record !== undefined && runsElsewhere(record, parts.node)) {
      // Its node pauses it first (sidecar saved), so the files below are not being written.
      await stopElsewhere(parts, id);
      record = await parts.store.get(id);
    }
    if (record === undefined) continue;
    // The stored path is checked again: nothing outside the download directory is ever deleted.
    if (deleteFiles && record.path !== undefined && (await deletableInside(parts.dir, record.path))) {
      await rm(sidecarOf(record.path), { recursive: true, force: true });
      if (record.state === "finished") await rm(record.path, { force: true });
    }
    const event = await parts.store.remove(id, parts.ctx.now());
    if (event !== undefined) {
      parts.deliver(event);
      removed.push(id);
    }
  }
  parts.schedule();
  return removed;
}
