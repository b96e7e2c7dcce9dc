/**
 * A token bucket for speed limits, pure: the caller passes the monotonic time (ms) and sleeps for the
 * delay it gets back. Bytes are taken after they arrived (a read cannot be made smaller in advance), so
 * the bucket may go into debt; the delay is exactly what pays the debt back at the current rate, which
 * keeps the long-run rate at the limit however large the chunks are. A rate of 0 means no limit.
 *
 * Idle time is credited up to the burst only, on purpose: more credit would let a download that stalled for
 * a while catch up above the limit. (Downloads that came out under the limit were not short of credit: their
 * bytes were charged twice, see the Scheduler's end game under a limit.)
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #at: number;
  /** Every token ever added by refills: a reader's place in the debt queue is measured on it. */
  #credited = 0;

  /**
   * @param rateBytesPerSecond limit; 0 = unlimited.
   * @param burstBytes most bytes that may pass at once after a quiet spell (default: a quarter second's
   *   worth, at least 16 KiB, so one socket read never waits on its own). The bucket starts empty.
   * @param now monotonic ms.
   */
  constructor(rateBytesPerSecond: number, now: number, burstBytes?: number) {
    this.#rate = Math.max(0, rateBytesPerSecond);
    this.#burst = burstBytes ?? defaultBurst(this.#rate);
    // Empty at first: the burst is credit for a quiet spell, and before the bucket there was none. Full, it
    // let a fresh download's first quarter second through free, so a 2.5 s download took 2.25 s (1.11x the
    // limit), a 1 s one 0.75 s, and every resume got it again.
    this.#tokens = 0;
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

  /**
   * Where the debt as it stands now ends, on the bucket's running count of tokens added: a reader that
   * just took bytes keeps it and asks `delayUntil` how long its own share still needs (bytes others take
   * after it do not make it wait longer; a changed rate does change how long).
   */
  debtEnd(): number {
    return this.#credited + Math.max(0, -this.#tokens);
  }

  /** How long (ms) from `now` until the tokens added reach `mark` (see debtEnd); 0 without a limit. */
  delayUntil(mark: number, now: number): number {
    if (this.#rate === 0) return 0;
    this.#refill(now);
    const owed = mark - this.#credited;
    return owed <= 0 ? 0 : (owed / this.#rate) * 1000;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    if (this.#rate === 0) return;
    const tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#rate);
    this.#credited += Math.max(0, tokens - this.#tokens);
    this.#tokens = tokens;
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

/** How long (ms) from `now` until each bucket reaches its mark (see TokenBucket.debtEnd): the longest. */
export function delayUntilAll(
  buckets: readonly TokenBucket[],
  marks: readonly number[],
  now: number,
): number {
  let wait = 0;
  buckets.forEach((bucket, i) => {
    wait = Math.max(wait, bucket.delayUntil(marks[i] ?? 0, now));
  });
  return wait;
}
