/** One connection's recent speed, as the download thread measured it. */
export interface ConnectionRate {
  readonly worker: number;
  /** Smoothed bytes/s over the last few seconds. */
  readonly bytesPerSecond: number;
  /** How long (ms) this connection has been below the slow threshold without a break. */
  readonly slowForMs: number;
  /** Bytes its segment still needs. */
  readonly remainingBytes: number;
}

/** When a connection counts as far slower than its peers. */
export interface SlowPolicy {
  /** Below this fraction of the median rate a connection is slow (default 1/4). */
  readonly ratio: number;
  /** It must stay slow this long (ms) before it is restarted. */
  readonly graceMs: number;
  /** Restarting is pointless for a short remainder: stealing handles that (bytes). */
  readonly minRemainingBytes: number;
  /** Fewer peers than this give no meaningful median. */
  readonly minPeers: number;
}

export const DEFAULT_SLOW_POLICY: SlowPolicy = {
  ratio: 0.25,
  graceMs: 0,
  minRemainingBytes: 256 << 10,
  minPeers: 3,
};

/** The median bytes/s of the connections, or of plain rates (0 for none). */
export function medianRate(rates: readonly (ConnectionRate | number)[]): number {
  const sorted = rates.map((r) => (typeof r === "number" ? r : r.bytesPerSecond)).sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** True when `rate` is slow against `median` under `policy` (used to start each connection's slow clock). */
export function isSlow(rate: number, median: number, policy: SlowPolicy): boolean {
  return median > 0 && rate < median * policy.ratio;
}

/**
 * Which connections to restart (pure): those far slower than the median of their peers for longer than
 * the grace period, with enough left to be worth a fresh connection. A path-level slowdown (one bad
 * route, a throttled server slot) is often cured by a new connection; when all are slow, none is.
 */
export function slowConnections(
  rates: readonly ConnectionRate[],
  policy: SlowPolicy = DEFAULT_SLOW_POLICY,
): number[] {
  if (rates.length < policy.minPeers) return [];
  const median = medianRate(rates);
  return rates
    .filter(
      (r) =>
        isSlow(r.bytesPerSecond, median, policy) &&
        r.slowForMs >= policy.graceMs &&
        r.remainingBytes >= policy.minRemainingBytes,
    )
    .map((r) => r.worker);
}
