/** Weight of the newest sample in a worker's smoothed rate: half, so a change shows within a tick or two. */
const SMOOTHING = 0.5;

/**
 * What is known of one worker's connection, carried from segment to segment (pure: time is passed in).
 * Its rate is measured from the bytes it stored, whichever segments they went to, over whole sampling
 * intervals: a worker that moved to a new segment, or waits for a response head, keeps its history, so a
 * segment shorter than a tick neither hides a connection's speed nor drags the median down.
 */
export class WorkerMeter {
  /** Smoothed bytes/s; undefined until a first interval was measured on the current connection. */
  #bytesPerSecond: number | undefined;
  #latest: number | undefined;
  /** Monotonic ms since when it has been far slower than its peers, if it is. */
  slowSince: number | undefined;
  /** Restarts in a row after which the fresh connection was slow again. */
  fruitlessRestarts = 0;
  #stored = 0;
  #storedAtSample = 0;
  #sampledAt: number;
  #wasWaiting = false;

  constructor(now: number) {
    this.#sampledAt = now;
  }

  /** Smoothed bytes/s, undefined while not measured. */
  get bytesPerSecond(): number | undefined {
    return this.#bytesPerSecond;
  }

  /** Bytes/s over the last sampling interval alone (undefined while not measured): what changed just now. */
  get latestBytesPerSecond(): number | undefined {
    return this.#latest;
  }

  /** Its request was answered at `now`: before its first measure, the interval starts here (see WorkerTable.answeredAt). */
  answered(now: number): void {
    if (this.#bytesPerSecond === undefined && this.#stored === this.#storedAtSample && now > this.#sampledAt)
      this.#restartInterval(now);
  }

  /** Counts `bytes` newly stored by this worker. */
  add(bytes: number): void {
    this.#stored += bytes;
  }

  /**
   * Takes a sample at a tick. An interval shorter than `minIntervalMs` is left to grow into the next one (a
   * first byte due any moment would read as a dead connection). While `waiting` (a retry backoff, no
   * connection), nothing is measured and the interval restarts, and again at the first sample after it.
   */
  sample(now: number, waiting: boolean, minIntervalMs: number): void {
    if (waiting) {
      this.#restartInterval(now);
      this.#wasWaiting = true;
      return;
    }
    if (this.#wasWaiting) {
      // It left the backoff some time in the last interval: measure from here.
      this.#wasWaiting = false;
      this.#restartInterval(now);
      return;
    }
    const ms = now - this.#sampledAt;
    if (ms < minIntervalMs) return;
    const rate = ((this.#stored - this.#storedAtSample) / ms) * 1000;
    this.#latest = rate;
    this.#bytesPerSecond =
      this.#bytesPerSecond === undefined ? rate : this.#bytesPerSecond * (1 - SMOOTHING) + rate * SMOOTHING;
    this.#restartInterval(now);
  }

  /**
   * A whole segment took `bytesPerSecond` from request to last byte, before any tick sampled it (a short
   * segment on a fast connection): the first measure of this connection, if it has none yet. Without it a
   * fast worker that finishes within a tick looks unmeasured, and the slow ones still busy set the median.
   */
  seed(bytesPerSecond: number): void {
    // The smoothed rate only: `latest` is what a tick measured (a restart compares those alone).
    if (this.#bytesPerSecond !== undefined) return;
    this.#bytesPerSecond = bytesPerSecond;
  }

  /** The connection was replaced: what was measured of the old one no longer says anything. */
  reset(now: number): void {
    this.#bytesPerSecond = undefined;
    this.#latest = undefined;
    this.slowSince = undefined;
    this.#restartInterval(now);
  }

  #restartInterval(now: number): void {
    this.#sampledAt = now;
    this.#storedAtSample = this.#stored;
  }
}
