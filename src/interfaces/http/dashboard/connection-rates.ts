/**
 * Per-connection rates for the dashboard, worked out in the browser from successive Progress messages:
 * the stream carries each segment's done bytes and current owner, not each connection's speed. Pure (no
 * DOM), so it is unit-tested under Bun.
 */

/** What the tracker reads of a segment (numbers: the page converts the proto's bigints first). */
export interface RateSegment {
  readonly id: number;
  readonly done: number;
  /** Owner while fetching; undefined otherwise. */
  readonly worker: number | undefined;
  readonly state: "pending" | "active" | "retrying" | "done" | "stalled";
  readonly retries: number;
}

/** One connection as the dashboard lists it. */
export interface ConnectionInfo {
  readonly worker: number;
  /** Smoothed rate, bytes per second; 0 while not yet `measured`. */
  readonly bytesPerSecond: number;
  /** False until the connection has been seen in two messages (a rate needs a difference). */
  readonly measured: boolean;
  /** Segment it is fetching. */
  readonly segment: number;
  readonly state: "active" | "retrying" | "stalled";
  readonly retries: number;
  /** Well below its peers: under half the median rate of the active connections (with 2 or more). */
  readonly slow: boolean;
}

/** Time constant of the smoothing, seconds: rates follow a change within a few seconds without jitter. */
const SMOOTHING_S = 2;
/** A connection under this share of the median rate is marked slow. */
const SLOW_SHARE = 0.5;

/** Tracks done bytes per segment between messages and turns them into a rate per connection. */
export class ConnectionRates {
  readonly #done = new Map<number, number>();
  readonly #owner = new Map<number, number>();
  readonly #rate = new Map<number, number>();
  #atMs: number | undefined;

  /**
   * Feeds one message (`elapsedMs`: its server time, ms) and returns the connections now fetching, in
   * worker order. Bytes a segment gained since the previous message count for its owner, remembered after
   * the segment finished. The first message (and any that does not move time forward) only sets the baseline.
   */
  update(elapsedMs: number, segments: readonly RateSegment[]): ConnectionInfo[] {
    const seconds = this.#atMs === undefined ? 0 : (elapsedMs - this.#atMs) / 1000;
    const gained = new Map<number, number>();
    for (const s of segments) {
      if (s.worker !== undefined) this.#owner.set(s.id, s.worker);
      const before = this.#done.get(s.id);
      this.#done.set(s.id, s.done);
      const owner = this.#owner.get(s.id);
      // A segment first seen after the baseline was carved since the last message: all its bytes are new.
      const delta = s.done - (before ?? 0);
      if (owner !== undefined && delta > 0) gained.set(owner, (gained.get(owner) ?? 0) + delta);
    }
    const fetching = segments.filter((s) => s.worker !== undefined);
    if (seconds > 0) {
      const keep = 1 - Math.exp(-seconds / SMOOTHING_S);
      for (const s of fetching) {
        const worker = s.worker ?? 0;
        const now = (gained.get(worker) ?? 0) / seconds;
        const old = this.#rate.get(worker);
        this.#rate.set(worker, old === undefined ? now : old + keep * (now - old));
      }
    }
    if (this.#atMs === undefined || seconds > 0) this.#atMs = elapsedMs;
    const active = new Set(fetching.map((s) => s.worker));
    for (const worker of this.#rate.keys()) if (!active.has(worker)) this.#rate.delete(worker);
    const rates = fetching.map((s) => this.#rate.get(s.worker ?? 0) ?? 0);
    const median = medianOf(rates);
    return fetching
      .map((s, i) => ({
        worker: s.worker ?? 0,
        bytesPerSecond: rates[i] ?? 0,
        measured: this.#rate.has(s.worker ?? 0),
        segment: s.id,
        state: s.state === "retrying" || s.state === "stalled" ? s.state : ("active" as const),
        retries: s.retries,
        slow: fetching.length >= 2 && median > 0 && (rates[i] ?? 0) < SLOW_SHARE * median,
      }))
      .sort((a, b) => a.worker - b.worker);
  }
}

function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
