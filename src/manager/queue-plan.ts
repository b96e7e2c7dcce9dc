import type { QueueState } from "./download-record.ts";
import { compareQueueOrder } from "./queue-order.ts";

/** What the planner needs to know of one waiting download. */
export interface WaitingDownload {
  readonly id: number;
  readonly state: QueueState;
  readonly priority: number;
  readonly position: number;
  /** Connections asked for; 0 = the default. */
  readonly connections: number;
  /** Wall-clock ms a retrying download may run again. */
  readonly nextTryAt: number | undefined;
}

/** The situation the planner decides from. */
export interface QueueSituation {
  /** Downloads not running (any state; only queued and due retrying ones can start). */
  readonly waiting: readonly WaitingDownload[];
  /** Connections held by each running download. */
  readonly running: readonly number[];
  /** Most downloads running at once. */
  readonly maxActive: number;
  /** Most connections all running downloads hold together. */
  readonly connectionBudget: number;
  /** Connections of a download that asked for 0. */
  readonly defaultConnections: number;
  /** Wall clock, ms. */
  readonly now: number;
}

/** What to do now. */
export interface QueuePlan {
  /** Downloads to start, in order, with the connections each may use (at least 1). */
  readonly start: readonly { readonly id: number; readonly connections: number }[];
  /** When a retrying download becomes due (wall-clock ms), if one waits; plan again then. */
  readonly wakeAt: number | undefined;
}

/**
 * Decides which downloads start: queued ones and retrying ones whose time has come, higher priority first,
 * then lower position, then lower id; while fewer than `maxActive` run and the connection budget has room.
 * A download gets the connections it asked for, or less when the budget is short, keeping one connection
 * for each further download that has a slot. Order is strict: when the budget is spent, nothing further down
 * the queue jumps ahead.
 */
export function planQueue(situation: QueueSituation): QueuePlan {
  const { now } = situation;
  let slots = situation.maxActive - situation.running.length;
  let budget = situation.connectionBudget - situation.running.reduce((sum, n) => sum + n, 0);
  const due = (d: WaitingDownload) =>
    d.state === "queued" || (d.state === "retrying" && (d.nextTryAt ?? 0) <= now);
  const ready = situation.waiting.filter(due).sort(compareQueueOrder);
  const start: { id: number; connections: number }[] = [];
  for (const [index, download] of ready.entries()) {
    if (slots <= 0 || budget <= 0) break;
    const asked = download.connections > 0 ? download.connections : situation.defaultConnections;
    // Keep one connection for each further download that has a slot, so a tight budget still runs
    // max-active downloads (with fewer connections each) instead of fewer downloads.
    const reserve = Math.min(slots - 1, ready.length - index - 1);
    const connections = Math.max(1, Math.min(asked, budget - reserve));
    start.push({ id: download.id, connections });
    slots--;
    budget -= connections;
  }
  return { start, wakeAt: wakeAtOf(situation.waiting, now) };
}

/** When the first of `waiting`'s retrying downloads not yet due becomes due; undefined when none waits so. */
export function wakeAtOf(waiting: readonly WaitingDownload[], now: number): number | undefined {
  let wakeAt: number | undefined;
  for (const download of waiting) {
    if (download.state !== "retrying" || download.nextTryAt === undefined || download.nextTryAt <= now)
      continue;
    wakeAt = Math.min(wakeAt ?? Number.POSITIVE_INFINITY, download.nextTryAt);
  }
  return wakeAt;
}
