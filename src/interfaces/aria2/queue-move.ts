import type { Manager } from "../../manager/manager.ts";
import type { DownloadView } from "../../manager/manager-events.ts";
import { WAITING_STATES } from "./aria2-states.ts";

/** aria2's changePosition modes. */
export type PositionMode = "POS_SET" | "POS_CUR" | "POS_END";

/** Where changePosition puts a download in a waiting queue of `length`: aria2's rule, clamped to the queue. */
export function targetIndex(current: number, length: number, pos: number, how: PositionMode): number {
  const wanted = how === "POS_SET" ? pos : how === "POS_CUR" ? current + pos : length - 1 + pos;
  return Math.max(0, Math.min(length - 1, wanted));
}

/**
 * Moves download `id` to `index` of the waiting queue (queued, retrying and paused downloads in queue
 * order) and returns its new index, or undefined when it is not waiting. The waiting downloads' own
 * positions are dealt out again in the new order, so nothing else in the queue moves.
 *
 * MERGE (branch `mgr`): replace the loop of updates by `manager.move(id, position)`, one server-side step.
 */
export async function moveInQueue(
  manager: Manager,
  id: number,
  pos: number,
  how: PositionMode,
): Promise<number | undefined> {
  const waiting = await manager.list({ states: [...WAITING_STATES] });
  const current = waiting.findIndex((view) => view.id === id);
  if (current < 0) return undefined;
  const index = targetIndex(current, waiting.length, pos, how);
  if (index === current) return index;
  const positions = waiting.map((view) => view.position).sort((a, b) => a - b);
  const order: DownloadView[] = waiting.filter((view) => view.id !== id);
  order.splice(index, 0, waiting[current] as DownloadView);
  for (const [i, view] of order.entries()) {
    const position = positions[i] ?? view.position;
    // Equal positions would leave the order to the id: spread them.
    const unique = i > 0 && position <= (positions[i - 1] ?? 0) ? (positions[i - 1] ?? 0) + 1 : position;
    positions[i] = unique;
    if (unique !== view.position) await manager.update(view.id, { position: unique });
  }
  return index;
}
