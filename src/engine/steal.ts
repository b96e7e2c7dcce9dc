import { nextOffsetOf, remainingOf, type Segment } from "./segment.ts";

/** A decision to split the tail off `victim` at `splitAt` (the first offset of the new segment). */
export interface StealPlan {
  readonly victim: Segment;
  readonly splitAt: number;
}

/**
 * Work stealing (pure): an idle worker takes the second half of the largest remaining segment among
 * `candidates` (segments being fetched), if that half is at least `minStealBytes`. Halving keeps both
 * connections busy until they finish at about the same time; the minimum stops a storm of tiny requests.
 */
export function planSteal(candidates: Iterable<Segment>, minStealBytes: number): StealPlan | undefined {
  let best: Segment | undefined;
  for (const segment of candidates) {
    if (best === undefined || remainingOf(segment) > remainingOf(best)) best = segment;
  }
  if (best === undefined) return undefined;
  const remaining = remainingOf(best);
  const half = Math.floor(remaining / 2);
  if (half < Math.max(1, minStealBytes)) return undefined;
  return { victim: best, splitAt: nextOffsetOf(best) + (remaining - half) };
}
