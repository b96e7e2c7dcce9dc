/**
 * Transfer rate over a sliding time window, and the ETA it implies. Pure: the caller passes the clock
 * (monotonic ms) with every sample, so tests drive it without timers.
 *
 * Samples live in a fixed-size ring buffer, so memory is bounded however often `sample` is called. At the
 * intended cadence (one sample per ~250 ms, a 5 s window: ~20 samples) the buffer never fills; if it does,
 * the newest slot is overwritten so the oldest sample, and with it the full window span, is kept.
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #times: Float64Array;
  readonly #bytes: Float64Array;
  /** Index of the oldest sample. */
  #head = 0;
  #count = 0;

  /**
   * @param windowMs width of the sliding window, ms (> 0).
   * @param capacity most samples kept at once (>= 2).
   */
  constructor(windowMs = 5000, capacity = 128) {
    if (!(windowMs > 0)) throw new RangeError(`RateMeter windowMs: expected > 0, got ${windowMs}`);
    if (!(Number.isInteger(capacity) && capacity >= 2)) {
      throw new RangeError(`RateMeter capacity: expected an integer >= 2, got ${capacity}`);
    }
    this.#windowMs = windowMs;
    this.#times = new Float64Array(capacity);
    this.#bytes = new Float64Array(capacity);
  }

  /**
   * Records that `totalBytes` bytes (a running total, not a delta) had been transferred at `nowMs`.
   * Samples older than `nowMs - windowMs` are dropped; one exactly at the edge is kept. A sample whose time
   * is not after the newest one (a clock that did not advance) only updates the newest sample's byte count.
   */
  sample(nowMs: number, totalBytes: number): void {
    const capacity = this.#times.length;
    if (this.#count > 0) {
      const newest = this.#slot(this.#count - 1);
      if (nowMs <= (this.#times[newest] ?? 0)) {
        this.#bytes[newest] = totalBytes;
        return;
      }
    }
    const edge = nowMs - this.#windowMs;
    while (this.#count > 0 && (this.#times[this.#head] ?? 0) < edge) {
      this.#head = (this.#head + 1) % capacity;
      this.#count--;
    }
    // Full buffer: overwrite the newest sample rather than the oldest, keeping the window's full span.
    const index = this.#count === capacity ? this.#slot(capacity - 1) : this.#slot(this.#count++);
    this.#times[index] = nowMs;
    this.#bytes[index] = totalBytes;
  }

  /**
   * Bytes per second between the oldest and the newest sample in the window; 0 with fewer than two samples,
   * or when the total did not grow (never negative, e.g. after a segment's bytes were discarded).
   */
  rate(): number {
    if (this.#count < 2) return 0;
    const oldest = this.#head;
    const newest = this.#slot(this.#count - 1);
    const elapsedMs = (this.#times[newest] ?? 0) - (this.#times[oldest] ?? 0);
    if (elapsedMs <= 0) return 0;
    const delta = (this.#bytes[newest] ?? 0) - (this.#bytes[oldest] ?? 0);
    return Math.max(0, (delta * 1000) / elapsedMs);
  }

  /**
   * Seconds to transfer `remainingBytes` at the current rate: undefined when the remaining size is unknown
   * or the rate is 0 (no estimate is better than "infinity"); 0 when nothing remains.
   */
  eta(remainingBytes: number | undefined): number | undefined {
    if (remainingBytes === undefined) return undefined;
    if (remainingBytes <= 0) return 0;
    const rate = this.rate();
    return rate > 0 ? remainingBytes / rate : undefined;
  }

  /** Forgets every sample, e.g. on resume, so bytes read before a pause do not count towards the rate. */
  reset(): void {
    this.#head = 0;
    this.#count = 0;
  }

  /** Number of samples held (at most the capacity); exposed so tests can check that memory stays bounded. */
  sampleCount(): number {
    return this.#count;
  }

  #slot(offset: number): number {
    return (this.#head + offset) % this.#times.length;
  }
}
