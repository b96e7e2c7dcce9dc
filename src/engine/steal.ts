import { nextOffsetOf, remainingOf, type Segment } from "./segment.ts";

/** A victim at most this many times slower than the thief keeps its in-flight bytes (see planEvenSplit). */
const TAKE_ALL_RATIO = 4;

/** A decision to split the tail off `victim` at `splitAt` (the first offset of the new segment). */
export interface StealPlan {
  readonly victim: Segment;
  readonly splitAt: number;
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
  /**
   * The end game (nothing left to carve): a victim much slower than the thief may lose all its remainder,
   * in-flight bytes included (see planEvenSplit). Earlier, a slow connection's next segment would be robbed
   * the same way again and again.
   */
  readonly mayTakeAll?: boolean;
}

/**
 * Where to split `victim` so that it and the thief finish together (pure): the victim keeps K bytes with
 * K / rv = start + (R − K) / rt, so K = (start + R / rt) / (1 / rv + 1 / rt). A slow victim keeps little
 * (at 1/8 of the thief's speed, about a ninth); equal rates give halves, less the thief's start. Unmeasured
 * rates give halves. The victim keeps at least its in-flight bytes, and may keep nothing (a victim that moves
 * nothing, or one so slow that the thief fetches all it has left sooner than it receives its in-flight bytes);
 * undefined when the thief would get less than `minStealBytes`, which is also the
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
  // A victim so slow that even its in-flight bytes take longer than the thief needs for all of it: the
  // thief takes all, and the victim's in-flight bytes (fetched twice, at most inFlightBytes) are dropped.
  const takeAll = input.mayTakeAll === true && rv !== undefined && rt !== undefined && rv > 0;
  if (takeAll && rv * TAKE_ALL_RATIO <= rt && keep > 0) {
    const victimSeconds = keep / rv;
    if (victimSeconds > input.thiefStartSeconds + remaining / rt) keep = 0;
  }
  const stolen = remaining - keep;
  if (stolen < Math.max(1, input.minStealBytes)) return undefined;
  return { victim, splitAt: nextOffsetOf(victim) + keep };
}
