import { remainingOf, type Segment } from "./segment.ts";
import {
  type ConnectionRate,
  isSlow,
  medianRate,
  type SlowPolicy,
  slowConnections,
} from "./slow-connection.ts";
import { WorkerMeter } from "./worker-meter.ts";

/**
 * A worker whose fresh connections came out slow this many times in a row is not restarted again: the
 * slowness is its path's, not its connection's; steals and smaller segments keep it from holding the end.
 */
const MAX_FRUITLESS_RESTARTS = 2;

/** A segment smaller than this says too little of its connection's rate to seed it (see WorkerMeter.seed). */
const SEED_MIN_BYTES = 128 << 10;

/** Shortest time (ms) on a segment that gives an unsampled worker an estimated rate (see estimateOf). */
const ESTIMATE_MIN_MS = 40;

/** A worker's current segment, and what the last tick saw of it. */
export interface Assignment {
  readonly segment: Segment;
  /** `segment.done` when it was handed out, and when last counted into the worker's meter. */
  counted: number;
  lastByteAt: number;
  /** Waiting out a retry backoff (no connection). */
  waiting: boolean;
  /** The source its requests go to. */
  readonly source: number;
  /** When it was handed out, and `segment.done` then (for a segment finished before any tick: see seed). */
  readonly assignedAt: number;
  readonly doneAtAssign: number;
  /** Its request on the source was answered (a first byte): it counts among the source's open connections. */
  answered: boolean;
  /** Its request was timed from sending (not the probe's answer, read from a buffer): its rate says something. */
  timed: boolean;
  /** When its request's answer came (monotonic ms), once it came; `segment.done` then. */
  answeredAt: number | undefined;
  doneAtAnswer: number;
}

/**
 * The scheduler's view of its workers (pure): who holds which segment, and what was measured of each
 * worker's connection (a WorkerMeter, kept from segment to segment). Its bytes are counted from its
 * segments' `done`, so they are the bytes it stored.
 */
export class WorkerTable {
  readonly #assigned = new Map<number, Assignment>();
  readonly #meters = new Map<number, WorkerMeter>();
  /** The source each worker's last request went to (kept while it is idle). */
  readonly #sources = new Map<number, number>();
  /** Told the bytes each worker stores, with their source. */
  readonly #onStored: (source: number, bytes: number) => void;

  constructor(onStored: (source: number, bytes: number) => void = () => {}) {
    this.#onStored = onStored;
  }

  /** Busy workers and their segments. */
  get assigned(): ReadonlyMap<number, Assignment> {
    return this.#assigned;
  }

  /** `worker`'s meter, created (measuring from `now`) the first time it asks for work. */
  meter(worker: number, now: number): WorkerMeter {
    let meter = this.#meters.get(worker);
    if (meter === undefined) {
      meter = new WorkerMeter(now);
      this.#meters.set(worker, meter);
    }
    return meter;
  }

  /**
   * `worker`'s request was answered at `now`: a connection not measured yet measures from here, not from
   * when it asked (its first sample would count the wait for the answer, under load half a tick or more,
   * and a source would look several times slower than it is: workers left the mirrors bench's slow mirror
   * on that first sample, and a capped mirror's best total was read at one connection too many).
   */
  answeredAt(worker: number, now: number): void {
    this.#meters.get(worker)?.answered(now);
    const a = this.#assigned.get(worker);
    if (a !== undefined && a.answeredAt === undefined) {
      a.answeredAt = now;
      a.doneAtAnswer = a.segment.done;
    }
  }

  /**
   * What `worker`'s current request moved since its answer came, once that is at least `minMs` old; undefined
   * before, or for a request not timed. Its connection's own rate: Bun's pool may hand a worker another
   * connection for each request, and the meter, which samples over several round trips (600 ms when first
   * bytes take 150 ms under load), still shows the one before.
   */
  requestRateOf(worker: number, now: number, minMs: number): number | undefined {
    const a = this.#assigned.get(worker);
    if (a === undefined || a.waiting || !a.timed || a.answeredAt === undefined) return undefined;
    if (now - a.answeredAt < minMs) return undefined;
    return ((a.segment.done - a.doneAtAnswer) / (now - a.answeredAt)) * 1000;
  }

  /** Smoothed bytes/s of `worker`, undefined while not measured. */
  rateOf(worker: number): number | undefined {
    return this.#meters.get(worker)?.bytesPerSecond;
  }

  /**
   * `worker` fetches `segment` from `source`; a worker that changes source has a new connection, so what
   * was measured of the old one is forgotten.
   */
  /**
   * `worker`'s measured rate, else (not sampled by a tick yet) what its current segment moved since it was
   * handed out, once that is at least ESTIMATE_MIN_MS old: a fast peer may look for work before the first tick.
   */
  estimateOf(worker: number, now: number, minMs = ESTIMATE_MIN_MS): number | undefined {
    const measured = this.rateOf(worker);
    if (measured !== undefined) return measured;
    const a = this.#assigned.get(worker);
    if (a === undefined || a.waiting || !a.timed || now - a.assignedAt < minMs) return undefined;
    return ((a.segment.done - a.doneAtAssign) / (now - a.assignedAt)) * 1000;
  }

  assign(worker: number, segment: Segment, now: number, source = 0): void {
    const before = this.#sources.get(worker);
    if (before !== undefined && before !== source) this.#meters.get(worker)?.reset(now);
    this.#sources.set(worker, source);
    this.#assigned.set(worker, {
      segment,
      counted: segment.done,
      lastByteAt: now,
      waiting: false,
      source,
      answered: false,
      timed: false,
      assignedAt: now,
      doneAtAssign: segment.done,
      answeredAt: undefined,
      doneAtAnswer: segment.done,
    });
  }

  /** The source of `worker`'s last request, if it made one. */
  sourceOf(worker: number): number | undefined {
    return this.#sources.get(worker);
  }

  /** Busy workers on `source`, not counting `except`; only those whose request was answered if `answered`. */
  connectionsOn(source: number, except?: number, answered = false): number {
    let n = 0;
    for (const [worker, a] of this.#assigned)
      if (a.source === source && worker !== except && (!answered || a.answered)) n++;
    return n;
  }

  /**
   * `worker` holds no segment any more; what it stored is counted. With `now`, a segment it finished before
   * any tick measured it gives its connection a first rate.
   */
  release(worker: number, now?: number): void {
    const a = this.#assigned.get(worker);
    if (a === undefined) return;
    this.#count(worker, a);
    const bytes = a.segment.done - a.doneAtAssign;
    const whole = a.timed && remainingOf(a.segment) === 0;
    if (now !== undefined && now > a.assignedAt && bytes >= SEED_MIN_BYTES && whole)
      this.#meters.get(worker)?.seed((bytes / (now - a.assignedAt)) * 1000);
    this.#assigned.delete(worker);
  }

  /**
   * Takes a tick's sample of each busy worker (`sample` returns undefined for one the run does not know)
   * and returns the workers silent for longer than `stallTimeoutMs` while not waiting. Each meter samples
   * over at least `minIntervalMs`.
   */
  sample(
    now: number,
    sample: (worker: number) => { readonly lastByteAt: number; readonly waiting: boolean } | undefined,
    minIntervalMs: number,
    stallTimeoutMs: number,
  ): number[] {
    const stalled: number[] = [];
    for (const [worker, a] of this.#assigned) {
      const s = sample(worker);
      if (s === undefined) continue;
      a.lastByteAt = s.lastByteAt;
      a.waiting = s.waiting;
      if (!a.waiting && now - a.lastByteAt > stallTimeoutMs) stalled.push(worker);
      this.#count(worker, a)?.sample(now, a.waiting, minIntervalMs);
    }
    return stalled;
  }

  /** Median smoothed rate of the busy, measured workers (0 when none). */
  median(): number {
    return medianRate(this.rates("smoothed"));
  }

  /**
   * Rates of the busy, measured workers: smoothed, or over the last sampling interval alone; of one source
   * only when `source` is given.
   */
  rates(which: "smoothed" | "latest", source?: number): ConnectionRate[] {
    const rates: ConnectionRate[] = [];
    for (const [worker, a] of this.#assigned) {
      if (source !== undefined && a.source !== source) continue;
      const m = this.#meters.get(worker);
      const rate = which === "smoothed" ? m?.bytesPerSecond : m?.latestBytesPerSecond;
      if (a.waiting || rate === undefined) continue;
      rates.push({ worker, bytesPerSecond: rate, slowForMs: 0, remainingBytes: remainingOf(a.segment) });
    }
    return rates;
  }

  /**
   * Smoothed rates of every measured worker, busy or idle (not one waiting out a backoff): the peers a
   * connection is compared with. The idle ones count: in the end game the fast connections are done first,
   * and the slow ones still busy would otherwise set the median.
   */
  peerRates(): number[] {
    const rates: number[] = [];
    for (const [worker, meter] of this.#meters) {
      if (this.#assigned.get(worker)?.waiting === true || meter.bytesPerSecond === undefined) continue;
      rates.push(meter.bytesPerSecond);
    }
    return rates;
  }

  /** Since when (monotonic ms) `worker`'s connection has been judged far slower than its peers, if it is. */
  slowSinceOf(worker: number): number | undefined {
    return this.#meters.get(worker)?.slowSince;
  }

  /** True when `worker`'s connection is far slower than `median` under `policy`. */
  isSlow(worker: number, median: number, policy: SlowPolicy): boolean {
    const own = this.rateOf(worker);
    return own !== undefined && median > 0 && isSlow(own, median, policy);
  }

  /** Seconds until the busy workers' segments and `pendingBytes` are done at their rates plus `own`. */
  secondsLeft(own: number, pendingBytes: number, now: number): number {
    let total = own;
    let work = pendingBytes;
    for (const [worker, a] of this.#assigned) {
      work += remainingOf(a.segment);
      // A busy worker not sampled yet (the first samples wait a few round trips) still moves bytes.
      total += this.estimateOf(worker, now) ?? 0;
    }
    return work / Math.max(total, 1);
  }

  /**
   * Workers far slower than the median of their measured peers over the last interval (a silent one
   * included) for longer than the policy's grace: the run re-requests on a fresh connection, measured
   * anew. The last interval alone, not the smoothed rate, so that a connection that slows down is caught
   * at once.
   */
  slowToRestart(now: number, policy: SlowPolicy): number[] {
    // Compared within each source: a slow source's connections are its own pace, which no reconnect cures.
    const bySource = new Set([...this.#assigned.values()].map((a) => a.source));
    return [...bySource].flatMap((source) => this.#slowToRestartOn(source, now, policy));
  }

  #slowToRestartOn(source: number, now: number, policy: SlowPolicy): number[] {
    const rates = this.rates("latest", source);
    const median = medianRate(rates);
    const timed = rates.map((r) => {
      const m = this.#meters.get(r.worker) as WorkerMeter;
      const slow = isSlow(r.bytesPerSecond, median, policy);
      m.slowSince = slow ? (m.slowSince ?? now) : undefined;
      if (!slow) m.fruitlessRestarts = 0;
      return { ...r, slowForMs: m.slowSince === undefined ? 0 : now - m.slowSince };
    });
    const restart = slowConnections(timed, policy).filter(
      (worker) => (this.#meters.get(worker)?.fruitlessRestarts ?? 0) < MAX_FRUITLESS_RESTARTS,
    );
    for (const worker of restart) {
      const m = this.#meters.get(worker) as WorkerMeter;
      const fruitless = m.fruitlessRestarts;
      m.reset(now);
      // Counted now, cleared by the first interval the fresh connection is not slow.
      m.fruitlessRestarts = fruitless + 1;
    }
    return restart;
  }

  /** Moves the bytes `worker` stored since last counted into its meter. */
  #count(worker: number, a: Assignment): WorkerMeter | undefined {
    const meter = this.#meters.get(worker);
    const bytes = a.segment.done - a.counted;
    meter?.add(bytes);
    if (bytes > 0) this.#onStored(a.source, bytes);
    a.counted = a.segment.done;
    return meter;
  }
}
