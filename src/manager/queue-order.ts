/** The fields queue order reads. */
export interface QueueOrderKey {
  readonly priority: number;
  readonly position: number;
  readonly id: number;
}

/**
 * Queue order, the one comparator: higher priority first, then lower position, then lower id (ids are
 * never reused, so the order is total). For `Array.prototype.sort`.
 */
export function compareQueueOrder(a: QueueOrderKey, b: QueueOrderKey): number {
  return b.priority - a.priority || a.position - b.position || a.id - b.id;
}
