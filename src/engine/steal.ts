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

/** A segment being fetched, with its connection's recent speed. */
export interface SegmentInFlight {
  readonly segment: Segment;
  /** Recent bytes/s of its connection (undefined while too young to measure). */
  readonly bytesPerSecond: number | undefined;
}

/**
 * Frontier steal (pure): when the segment holding the lowest missing byte of the output is on a connection far
 * slower than the median of its peers (below `slowRatio` of it), an idle worker takes its back half before
 * any new segment. That byte is where hash on arrival waits and where the file's contiguous prefix ends; left
 * alone, one slow connection there keeps the whole hash, and the verified end, behind by its segment. A segment
 * its connection finishes within `minRemainingSeconds` is left alone.
 */
export function planFrontierSteal(
  inFlight: readonly SegmentInFlight[],
  minStealBytes: number,
  slowRatio: number,
  minRemainingSeconds: number,
): StealPlan | undefined {
  let frontier: SegmentInFlight | undefined;
  for (const candidate of inFlight) {
    if (remainingOf(candidate.segment) === 0) continue;
    if (frontier === undefined || candidate.segment.start < frontier.segment.start) frontier = candidate;
  }
  if (frontier?.bytesPerSecond === undefined) return undefined;
  const peers = inFlight
    .filter((p) => p !== frontier && p.bytesPerSecond !== undefined)
    .map((p) => p.bytesPerSecond as number)
    .sort((a, b) => a - b);
  if (peers.length === 0) return undefined;
  const median = peers[Math.floor(peers.length / 2)] as number;
  if (frontier.bytesPerSecond >= median * slowRatio) return undefined;
  // Splitting a segment drops the bytes its connection already has in flight past the split (megabytes on a
  // fast link): not worth it for a segment that will be done soon anyway.
  const remainingSeconds = remainingOf(frontier.segment) / Math.max(frontier.bytesPerSecond, 1);
  if (remainingSeconds < minRemainingSeconds) return undefined;
  return planSteal([frontier.segment], minStealBytes);
}

/** What an even split needs to know (rates in bytes/s, undefined when not measured). */
export interface EvenSplitInput {
  readonly victim: Segment;
  readonly victimBytesPerSecond: number | undefined;
  readonly thiefBytesPerSecond: number | undefined;
  /** Seconds before the thief's first byte (its request's round trip); the victim keeps going meanwhile. */
  readonly thiefStartSeconds: number;
  /**
   * Bytes the victim's connection likely has in flight (about its rate times a round trip's worth of
   * buffering): it keeps at least these, instead of receiving and dropping them when it stops at the split.
   */
  readonly inFlightBytes: number;
  readonly minStealBytes: number;
}

/**
 * Where to split `victim` so that it and the thief finish together (pure): the victim keeps K bytes with
 * K / rv = start + (R − K) / rt, so K = (start + R / rt) / (1 / rv + 1 / rt). A slow victim keeps little
 * (at 1/8 of the thief's speed, about a ninth); equal rates give halves, less the thief's start. Unmeasured
 * rates give halves. The victim keeps at least its in-flight bytes, and may keep nothing (a victim that moves
 * nothing: all of it goes); undefined when the thief would get less than `minStealBytes`, which is also the
 * case when the thief would not finish sooner than the victim alone.
 */
export function planEvenSplit(input: EvenSplitInput): StealPlan | undefined {
  const { victim } = input;
  const remaining = remainingOf(victim);
  const rv = input.victimBytesPerSecond;
  const rt = input.thiefBytesPerSecond;
  let keep =
    rv !== undefined && rt !== undefined && rt > 0
      ? rv <= 0
        ? 0
        : (input.thiefStartSeconds + remaining / rt) / (1 / rv + 1 / rt)
      : remaining - Math.floor(remaining / 2);
  keep = Math.ceil(Math.max(keep, input.inFlightBytes));
  const stolen = remaining - keep;
  if (stolen < Math.max(1, input.minStealBytes)) return undefined;
  return { victim, splitAt: nextOffsetOf(victim) + keep };
}
