/**
 * A token bucket for speed limits, pure: the caller passes the monotonic time (ms) and sleeps for the
 * delay it gets back. Bytes are taken after they arrived (a read cannot be made smaller in advance), so
 * the bucket may go into debt; the delay is exactly what pays the debt back at the current rate, which
 * keeps the long-run rate at the limit however large the chunks are. A rate of 0 means no limit.
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #at: number;

  /**
   * @param rateBytesPerSecond limit; 0 = unlimited.
   * @param burstBytes most bytes that may pass at once after a quiet spell (default: a quarter second's
   *   worth, at least 16 KiB, so one socket read never waits on its own).
   * @param now monotonic ms.
   */
  constructor(rateBytesPerSecond: number, now: number, burstBytes?: number) {
    this.#rate = Math.max(0, rateBytesPerSecond);
    this.#burst = burstBytes ?? defaultBurst(this.#rate);
    this.#tokens = this.#burst;
    this.#at = now;
  }

  /** Current limit, bytes per second (0 = none). */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the limit from `now` on (bytes already owed are repaid at the new rate). */
  setRate(rateBytesPerSecond: number, now: number, burstBytes?: number): void {
    this.#refill(now);
    this.#rate = Math.max(0, rateBytesPerSecond);
    this.#burst = burstBytes ?? defaultBurst(this.#rate);
    this.#tokens = Math.min(this.#tokens, this.#burst);
  }

  /** Records `bytes` received at `now`; returns how long (ms) the reader should wait before reading on. */
  take(bytes: number, now: number): number {
    if (this.#rate === 0) return 0;
    this.#refill(now);
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }

  /** How long (ms) from `now` until what is owed is repaid at the current rate; 0 when nothing is owed. */
  delay(now: number): number {
    if (this.#rate === 0) return 0;
    this.#refill(now);
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    if (this.#rate > 0) this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#rate);
  }
}

function defaultBurst(rate: number): number {
  return Math.max(16 * 1024, rate / 4);
}

/**
 * The wait for `bytes` under several buckets at once (a download's own limit and the global one): every
 * bucket is charged, and the reader waits for the slowest.
 */
export function takeFromAll(buckets: readonly TokenBucket[], bytes: number, now: number): number {
  let wait = 0;
  for (const bucket of buckets) wait = Math.max(wait, bucket.take(bytes, now));
  return wait;
}

/** How long (ms) from `now` until every bucket's debt is repaid: the slowest one's delay. */
export function delayOfAll(buckets: readonly TokenBucket[], now: number): number {
  let wait = 0;
  for (const bucket of buckets) wait = Math.max(wait, bucket.delay(now));
  return wait;
}
