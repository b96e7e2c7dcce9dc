/**
 * A speed limit as a token bucket (pure: time comes in as arguments, in ms). Tokens are bytes; they refill at
 * `bytesPerSecond` up to a burst of a quarter second's worth (at least 16 KiB), so the limit holds over any
 * window longer than that. Reading is never refused: `take` lets the balance go negative and says how long
 * the reader must wait before its next read, so a large chunk is paid for by a longer pause instead of
 * being split. `undefined` as the rate means no limit. The rate can change at any moment.
 */
export class TokenBucket {
  #rate: number | undefined;
  #tokens = 0;
  #updatedAt: number | undefined;

  constructor(bytesPerSecond: number | undefined) {
    this.#rate = validRate(bytesPerSecond);
  }

  /** Bytes/s, or undefined when unlimited. */
  get rate(): number | undefined {
    return this.#rate;
  }

  /** Changes the rate; the balance carries over, capped at the new burst. */
  setRate(bytesPerSecond: number | undefined, nowMs: number): void {
    this.#refill(nowMs);
    this.#rate = validRate(bytesPerSecond);
    this.#tokens = Math.min(this.#tokens, this.#burst());
  }

  /** Takes `bytes` (just read) and returns the ms to wait before the next read (0: go on). */
  take(bytes: number, nowMs: number): number {
    if (this.#rate === undefined) return 0;
    this.#refill(nowMs);
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }

  #refill(nowMs: number): void {
    const last = this.#updatedAt ?? nowMs;
    this.#updatedAt = nowMs;
    if (this.#rate === undefined) return;
    this.#tokens = Math.min(this.#burst(), this.#tokens + ((nowMs - last) / 1000) * this.#rate);
  }

  #burst(): number {
    return this.#rate === undefined ? 0 : Math.max(16 << 10, this.#rate / 4);
  }
}

/**
 * The wait before the next read under several limits at once (a download's own and the global one): each
 * bucket is charged, and the longest wait wins.
 */
export function takeFromAll(buckets: readonly TokenBucket[], bytes: number, nowMs: number): number {
  let wait = 0;
  for (const bucket of buckets) wait = Math.max(wait, bucket.take(bytes, nowMs));
  return wait;
}

function validRate(rate: number | undefined): number | undefined {
  return rate !== undefined && Number.isFinite(rate) && rate > 0 ? rate : undefined;
}
