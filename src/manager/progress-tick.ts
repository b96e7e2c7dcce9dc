import type { QueueState } from "./download-record.ts";
import type { JobRunner } from "./job-runner.ts";
import type { DownloadView, ManagerEvent, QueueStats } from "./manager-events.ts";
import type { Store } from "./store.ts";

/** The queue's counters: `counts` as stored, the rate and slots of the jobs running here. */
export function queueStats(
  jobs: JobRunner,
  counts: ReadonlyMap<QueueState, number>,
  maxActive: number,
  globalLimit: number,
): QueueStats {
  let bytesPerSecond = 0;
  for (const job of jobs.values()) bytesPerSecond += job.controller.snapshot().bytesPerSecond;
  // A job verifying its file holds no slot.
  const active = [...jobs.values()].filter((job) => !job.verifying).length;
  return { counts, bytesPerSecond, active, maxActive, globalLimit };
}

/**
 * One progress message: the downloads running here with live bytes, on a shared store also those other
 * nodes run (with the bytes their last heartbeat stored: one view of the fleet), and the counters; `seq`
 * is read last, once the store answered.
 */
export async function progressTick(
  store: Store,
  jobs: JobRunner,
  seq: () => number,
  stats: (counts: ReadonlyMap<QueueState, number>) => QueueStats,
): Promise<ManagerEvent> {
  const progress: DownloadView[] = [];
  for (const job of jobs.values()) progress.push(jobs.view(job.record));
  const counts = await store.countByState();
  if (store.shared) {
    for (const record of await store.list({ states: ["running", "verifying"] })) {
      if (!jobs.has(record.id)) progress.push(jobs.view(record));
    }
  }
  return { kind: "tick", seq: seq(), progress, stats: stats(counts) };
}
