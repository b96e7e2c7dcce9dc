// No imports: the dashboard's browser bundle imports this file too.

/** What decides a download's place in the queue. */
export interface QueueOrdered {
  /** Higher runs first. */
  readonly priority: number;
  /** Among equal priorities, lower runs first (unique: see Store.move). */
  readonly position: number;
  /** The last tie-break: older first. */
  readonly id: number;
}

/**
 * The one queue order: priority descending, then position ascending, then id ascending. Used by the memory
 * store, the planner (queue-plan.ts) and the dashboard; the SQL stores sort by QUEUE_ORDER_SQL, the same
 * order written for the database (and indexed so).
 */
export function compareQueueOrder(a: QueueOrdered, b: QueueOrdered): number {
  return b.priority - a.priority || a.position - b.position || a.id - b.id;
}

/** compareQueueOrder as an SQL ORDER BY list (the columns of `downloads` / `dlm_downloads`). */
export const QUEUE_ORDER_SQL = "priority DESC, position, id";
