/** What the scheduler is told of one source at the start (see source.ts for the whole record). */
export interface SourceLimits {
  readonly id: number;
  /** Most connections it accepts; undefined = no known limit. */
  readonly maxConnections?: number | undefined;
  /** Lower preferred (a Metalink's); undefined = 1. */
  readonly priority?: number | undefined;
}

/** `active`: in use; `demoted`: failed several times in a row, used only where nothing better pays; `dropped`: never again. */
export type SourceState = "active" | "demoted" | "dropped";

/** What happened to a source, for the run's one log line (and tests). */
export interface SourceEvent {
  readonly source: number;
  readonly what: "demoted" | "dropped" | "limited" | "backoff";
  /** For `limited`: the connection cap learned; for `backoff`: until when (monotonic ms). */
  readonly value?: number | undefined;
  readonly reason: string;
}

/** A source as the scheduler sees it now (read-only copy, for progress and tests). */
export interface SourceStat {
  readonly id: number;
  readonly state: SourceState;
  /** Busy connections on it now. */
  readonly connections: number;
  /** Bytes stored from it this run. */
  readonly bytes: number;
  /** Sum of its busy connections' recent rates (bytes/s), undefined while not measured. */
  readonly bytesPerSecond: number | undefined;
  /** Most connections it accepts (given or learned), undefined = none known. */
  readonly maxConnections: number | undefined;
  /** Connections beyond which one more did not add to its total rate (learned), undefined = none seen. */
  readonly usefulConnections: number | undefined;
  /** Failures in a row without progress. */
  readonly errors: number;
  /** Smoothed time to first byte (ms), undefined while not measured. */
  readonly ttfbMs: number | undefined;
}

/** Failures in a row (no byte stored in between) after which a source is demoted... */
const DEMOTE_AFTER_ERRORS = 3;
/** ... and after which it is dropped (never the last usable one: then the worker's own retries decide). */
const DROP_AFTER_ERRORS = 6;
/** A demoted source's rate counts this much less when choosing where a connection goes. */
const DEMOTED_WEIGHT = 0.25;
/**
 * A source to which more connections added less than this share of what they would add at the rate per
 * connection it had (its total grew from T at n connections to under T × (1 + SATURATION_GAIN × k / n) at
 * n + k) has a total cap: more connections there divide the same rate, so they go elsewhere.
 */
const SATURATION_GAIN = 0.5;
/** How long (ms) a learnt number of useful connections holds before more are tried again. */
const USEFUL_FORGET_MS = 3000;
/** A new connection count is measured only once every connection on it was sampled this long after the change. */
const SETTLE_MS = 200;
/**
 * A source still not measured this long (ms) after its first connections gets an estimate from those measured
 * (see `sample`); not sooner: all sources start together, and one measured a tick before the others would lose
 * a worker to them at once (unmeasured sources are tried first).
 */
const PARTIAL_ESTIMATE_AFTER_MS = 1000;
/** Samples of a source's total at one count of connections before that count is judged (the first left out). */
const MIN_TOTAL_SAMPLES = 3;
/**
 * After a worker moved into a source, no other moves in for this long (ms): its total is measured first (the
 * count settles, then MIN_TOTAL_SAMPLES ticks).
 */
const MOVE_SETTLE_MS = 3 * SETTLE_MS;

class SourceRecord {
  state: SourceState = "active";
  errors = 0;
  bytes = 0;
  /** Bytes at the last failure: a failure after progress starts a new run of errors. */
  bytesAtError = 0;
  learnedMax: number | undefined;
  useful: number | undefined;
  /** When a worker last moved in from another source (monotonic ms; see choose). */
  movedInAt = Number.NEGATIVE_INFINITY;
  /** A learnt `useful` is tried again after this (monotonic ms): one noisy sample must not hold for good. */
  usefulUntil = 0;
  retryUntil = 0;
  ttfbMs: number | undefined;
  rate: number | undefined;
  /** Best rate per connection and best total seen (bytes/s). */
  bestPerConnection = 0;
  bestTotal = 0;
  bestTotalAt = 0;
  /** Connections counted at the last change, and when it changed. */
  connections = 0;
  changedAt = 0;
  /** Totals sampled at the current count since it changed (their sum and number; see `sample`). */
  totalsSum = 0;
  totalsCount = 0;
  /** The first tick it had connections at (monotonic ms; see PARTIAL_ESTIMATE_AFTER_MS). */
  firstSampledAt = Number.POSITIVE_INFINITY;
  constructor(readonly limits: SourceLimits) {}

  get maxConnections(): number | undefined {
    const given = this.limits.maxConnections;
    if (given === undefined) return this.learnedMax;
    return this.learnedMax === undefined ? given : Math.min(given, this.learnedMax);
  }
}

/**
 * The scheduler's view of its sources (pure: time is passed in): what was measured of each (rate, round
 * trip, errors, bytes), the most connections each accepts (given, or learned from a 503/429 on one connection
 * too many), how many add to its rate, and which are demoted or dropped. It decides which source a worker's
 * next request goes to: where one more connection adds the most bytes per second.
 */
export class SourceTable {
  readonly #sources: SourceRecord[];
  /** Events not yet taken (see `takeEvents`); a source's `limited` is kept once, with its latest cap. */
  #events: SourceEvent[] = [];

  constructor(sources: readonly SourceLimits[]) {
    const list = sources.length === 0 ? [{ id: 0 }] : sources;
    this.#sources = list.map((s) => new SourceRecord(s));
  }

  get size(): number {
    return this.#sources.length;
  }

  /** Sources that may still be used (not dropped). */
  get usableCount(): number {
    return this.#sources.filter((s) => s.state !== "dropped").length;
  }

  stats(connections: (source: number) => number): SourceStat[] {
    return this.#sources.map((s) => ({
      id: s.limits.id,
      state: s.state,
      connections: connections(s.limits.id),
      bytes: s.bytes,
      bytesPerSecond: s.rate,
      maxConnections: s.maxConnections,
      usefulConnections: s.useful,
      errors: s.errors,
      ttfbMs: s.ttfbMs,
    }));
  }

  /** True when `source` takes no new request now (dropped, at its connection cap, or in a Retry-After wait). */
  closed(source: number, connections: number, now: number): boolean {
    const s = this.#get(source);
    if (s === undefined || s.state === "dropped" || now < s.retryUntil) return true;
    const max = s.maxConnections;
    return max !== undefined && connections >= max;
  }

  /** True when a source other than `source` takes a request now. */
  openOther(source: number, now: number, connections: (source: number) => number): boolean {
    return this.#sources.some(
      (s) => s.limits.id !== source && !this.closed(s.limits.id, connections(s.limits.id), now),
    );
  }

  /** The earliest end of a Retry-After wait among usable sources, if every usable one is waiting. */
  waitingUntil(now: number): number | undefined {
    let until: number | undefined;
    for (const s of this.#sources) {
      if (s.state === "dropped") continue;
      if (s.retryUntil <= now) return undefined;
      until = until === undefined ? s.retryUntil : Math.min(until, s.retryUntil);
    }
    return until;
  }

  /**
   * The source for a worker's next request: of those open, the one where one more connection adds the most
   * (its rate per connection; nothing where more connections did not add to its total; a demoted one's
   * counts a quarter); unmeasured ones first, spread evenly (fewest connections, then lower priority, then
   * lower id). The worker's `current` source wins ties and keeps it unless another pays 1.5 times as much.
   * `connections(s)` counts the busy connections on `s` without this worker; undefined when none is open.
   */
  choose(
    current: number | undefined,
    now: number,
    connections: (source: number) => number,
  ): number | undefined {
    let best: { id: number; score: number; n: number; priority: number } | undefined;
    let currentScore: number | undefined;
    for (const s of this.#sources) {
      const id = s.limits.id;
      const n = connections(id);
      if (this.closed(id, n, now)) continue;
      const score = this.#marginal(s, n, now);
      if (id === current) currentScore = score;
      const priority = s.limits.priority ?? 1;
      const better =
        best === undefined ||
        score > best.score ||
        (score === best.score && (n < best.n || (n === best.n && priority < best.priority)));
      if (better) best = { id, score, n, priority };
    }
    if (best === undefined) return undefined;
    if (currentScore !== undefined && current !== undefined && best.id !== current) {
      const n = connections(current);
      // Both unmeasured: move only to even out the spread; else only for 1.5 times the rate.
      if (currentScore === Number.POSITIVE_INFINITY) return best.n < n ? best.id : current;
      if (best.score <= currentScore * 1.5) return current;
      // One move into a source at a time: the next waits until the last one's effect on its total was
      // measured (several at once would all land where the rate per connection looked best, past its cap).
      const target = this.#get(best.id);
      if (currentScore !== Number.POSITIVE_INFINITY && target !== undefined) {
        // Nor into one whose total at its present count is not known yet: what one more adds there is read
        // against it (moved in before, a burst at one connection more was its best, and hid its cap).
        if (now - target.movedInAt < MOVE_SETTLE_MS || target.totalsCount < MIN_TOTAL_SAMPLES) return current;
        target.movedInAt = now;
      }
    }
    return best.id;
  }

  /**
   * Bytes/s one connection on `source` gets (its measured total over the connections it was measured with),
   * undefined while not measured: what a worker moving there will fetch at, not the rate it had elsewhere.
   */
  perConnectionRate(source: number): number | undefined {
    const s = this.#get(source);
    if (s === undefined || s.rate === undefined) return undefined;
    return s.connections > 0 ? s.rate / s.connections : s.bestPerConnection || undefined;
  }

  /** Bytes/s one more connection on `s` is expected to add (Infinity while unmeasured). */
  #marginal(s: SourceRecord, connections: number, now: number): number {
    if (s.rate === undefined) return Number.POSITIVE_INFINITY;
    if (s.useful !== undefined && connections >= s.useful && now < s.usefulUntil) return 0;
    const perConnection = connections > 0 ? s.rate / connections : s.bestPerConnection;
    return perConnection * (s.state === "demoted" ? DEMOTED_WEIGHT : 1);
  }

  /**
   * Events since the last call, for the run's log: a cap learnt from several refusals at once (the first
   * requests of a download race each other) is one line with the cap that held.
   */
  takeEvents(): SourceEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #emit(event: SourceEvent): SourceEvent {
    const same = this.#events.findIndex((e) => e.what === "limited" && e.source === event.source);
    if (event.what === "limited" && same >= 0) this.#events[same] = event;
    else this.#events.push(event);
    return event;
  }

  /**
   * `answered` connections on `source` are open at once: a cap learnt below that was too low (a refusal raced
   * an answer still on its way), so it is raised to what the source carried.
   */
  answered(source: number, answered: number): void {
    const s = this.#get(source);
    if (s === undefined || s.learnedMax === undefined || answered <= s.learnedMax) return;
    s.learnedMax = answered;
    this.#emit({ source, what: "limited", value: s.maxConnections, reason: "refused one connection more" });
  }

  /** `bytes` were stored from `source`: it works (a later failure starts a new run of errors). */
  stored(source: number, bytes: number): void {
    const s = this.#get(source);
    if (s === undefined || bytes <= 0) return;
    s.bytes += bytes;
    if (s.errors > 0 && s.bytes > s.bytesAtError) {
      s.errors = 0;
      if (s.state === "demoted") s.state = "active";
    }
  }

  /** A request on `source` got its response head after `ms`. */
  firstByte(source: number, ms: number): void {
    const s = this.#get(source);
    if (s === undefined) return;
    s.ttfbMs = s.ttfbMs === undefined ? ms : s.ttfbMs * 0.8 + ms * 0.2;
  }

  /**
   * Every tick: `rates` are the recent rates of the busy, measured connections on `source` (all of them,
   * sampled since the count last changed, or the sample is skipped); learns the source's total, its best rate
   * per connection, and where more connections stopped adding.
   */
  sample(source: number, connections: number, rates: readonly number[], now: number): void {
    const s = this.#get(source);
    if (s === undefined) return;
    if (connections > 0 && s.firstSampledAt === Number.POSITIVE_INFINITY) s.firstSampledAt = now;
    if (connections !== s.connections) {
      s.connections = connections;
      s.changedAt = now;
      s.totalsSum = 0;
      s.totalsCount = 0;
      return;
    }
    if (connections === 0 || now - s.changedAt < SETTLE_MS) return;
    if (rates.length < connections) {
      // Some of its connections not measured yet: a source never measured gets a first estimate from those
      // that are. Unmeasured sources are tried first, so one whose count kept changing before all its
      // connections were measured drew every worker (on a loaded run, 9 of 12 onto the 8x slower mirror).
      if (s.rate === undefined && rates.length > 0 && now - s.firstSampledAt >= PARTIAL_ESTIMATE_AFTER_MS)
        s.rate = (rates.reduce((sum, r) => sum + r, 0) / rates.length) * connections;
      return;
    }
    const latest = rates.reduce((sum, r) => sum + r, 0);
    s.rate = latest;
    // What a count of connections carries is judged on the mean of its samples, from the second on: one
    // sample can be a server's catch-up after a pause (a pacing proxy sends up to 50 ms of its cap at once),
    // and taken as the best total at one connection too many it hid the cap (the mirrors bench ran 5-6
    // connections on each 4-connection mirror and left the slow mirror empty).
    // The first sample at a count is left out: its intervals may straddle the change (a connection that just
    // joined, still waiting for its answer or ramping up).
    s.totalsCount++;
    if (s.totalsCount > 1) s.totalsSum += latest;
    s.bestPerConnection = Math.max(s.bestPerConnection, latest / connections);
    if (s.totalsCount < MIN_TOTAL_SAMPLES) return;
    const total = s.totalsSum / (s.totalsCount - 1);
    const added = connections - s.bestTotalAt;
    if (
      connections > 1 &&
      s.bestTotalAt > 0 &&
      added > 0 &&
      total < s.bestTotal * (1 + (SATURATION_GAIN * added) / s.bestTotalAt)
    ) {
      s.useful = Math.min(s.useful ?? Number.POSITIVE_INFINITY, Math.max(1, s.bestTotalAt));
      s.usefulUntil = now + USEFUL_FORGET_MS;
    }
    if (total > s.bestTotal) {
      s.bestTotal = total;
      s.bestTotalAt = connections;
    }
  }

  /**
   * One more connection on `source` was refused (503/429) while `open` others on it worked: its cap is what
   * it carried, which is no failure. Returns the event to log when the cap is new.
   */
  limited(
    source: number,
    open: number,
    retryAfterMs: number | undefined,
    now: number,
  ): SourceEvent | undefined {
    const s = this.#get(source);
    if (s === undefined || open < 1) return undefined;
    if (retryAfterMs !== undefined) s.retryUntil = Math.max(s.retryUntil, now + retryAfterMs);
    const before = s.maxConnections;
    s.learnedMax = Math.min(s.learnedMax ?? Number.POSITIVE_INFINITY, open);
    if (before === s.maxConnections) return undefined;
    return this.#emit({
      source: s.limits.id,
      what: "limited",
      value: s.maxConnections,
      reason: "refused one connection more",
    });
  }

  /**
   * A request on `source` failed (`reason` for the log). A Retry-After applies to this source alone; errors
   * in a row demote it, then drop it (never the last usable source). `disagrees`: its answer contradicts the
   * file (size, validator): dropped at once, unless it is the last.
   */
  failed(
    source: number,
    reason: string,
    now: number,
    options: { readonly retryAfterMs?: number | undefined; readonly disagrees?: boolean } = {},
  ): SourceEvent | undefined {
    const s = this.#get(source);
    if (s === undefined || s.state === "dropped") return undefined;
    if (options.retryAfterMs !== undefined) s.retryUntil = Math.max(s.retryUntil, now + options.retryAfterMs);
    s.bytesAtError = s.bytes;
    s.errors++;
    const last = this.usableCount <= 1;
    if ((options.disagrees === true || s.errors >= DROP_AFTER_ERRORS) && !last) {
      s.state = "dropped";
      return this.#emit({ source: s.limits.id, what: "dropped", reason });
    }
    if (s.errors >= DEMOTE_AFTER_ERRORS && s.state === "active" && !last) {
      s.state = "demoted";
      return this.#emit({ source: s.limits.id, what: "demoted", reason });
    }
    if (options.retryAfterMs !== undefined)
      return this.#emit({ source: s.limits.id, what: "backoff", value: s.retryUntil, reason });
    return undefined;
  }

  stateOf(source: number): SourceState | undefined {
    return this.#get(source)?.state;
  }

  #get(source: number): SourceRecord | undefined {
    return this.#sources.find((s) => s.limits.id === source);
  }
}
