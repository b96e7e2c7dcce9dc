import { nextSegmentBytes } from "./plan.ts";
import { isComplete, lengthOf, remainingOf, type Segment } from "./segment.ts";
import {
  DEFAULT_SLOW_POLICY,
  isSlow,
  medianRate,
  type SlowPolicy,
  slowConnections,
} from "./slow-connection.ts";
import { pastInFlight, planFrontierSteal, planSteal, type StealPlan } from "./steal.ts";

/** How often (ms) the run samples its workers and calls `Scheduler.tick`. */
export const TICK_MS = 250;
/** Seconds of a connection's rate assumed to be in flight (socket buffers, a round trip) when it is split. */
const IN_FLIGHT_SECONDS = 0.1;
/** A segment its connection finishes sooner than this (s) is not split: its in-flight bytes would be lost. */
const MIN_SPLIT_REMAINING_SECONDS = 0.5;
/** Smallest half taken off a slow segment at the hash frontier (see planFrontierSteal). */
const FRONTIER_MIN_STEAL_BYTES = 256 << 10;

/** What the scheduler needs to know of one download. */
export interface SchedulerOptions {
  /** `range`: segments by byte ranges; `stream`: one whole-file body, never split. */
  readonly mode: "range" | "stream";
  readonly connections: number;
  /** Smallest segment worth its own request (bytes). */
  readonly minSplitBytes: number;
  /** A connection silent this long (ms) while waiting for bytes is aborted. */
  readonly stallTimeoutMs: number;
  readonly slowPolicy?: SlowPolicy;
}

/** A worker as the run saw it at a tick: counters its fetch loop keeps. */
export interface WorkerSample {
  /** Bytes received for its current segment, all attempts. */
  readonly received: number;
  /** Monotonic ms of its last byte, or of the start of its current attempt. */
  readonly lastByteAt: number;
  /** True while it waits out a retry backoff (no connection to watch). */
  readonly waiting: boolean;
}

/** What `next` hands a worker, and where it came from (for logs and tests). */
export interface Work {
  readonly segment: Segment;
  /**
   * `carved`: cut off the front of the unassigned bytes, in file order; `resumed`: a segment from an earlier
   * run, as it is; `stolen`: the back half of the largest segment in flight (end game); `frontier`: the back
   * half of the segment at the hash frontier, whose connection is far slower than its peers.
   */
  readonly kind: "carved" | "resumed" | "stolen" | "frontier";
  /** The segment split for a steal. */
  readonly victim: Segment | undefined;
}

/** Something the run must do to a worker's current attempt (the segment itself continues). */
export interface Decision {
  /** `stalled`: nothing arrived for the stall timeout; `slow`: far slower than its peers, re-request. */
  readonly kind: "stalled" | "slow";
  readonly worker: number;
}

/** A worker's current segment and what was measured of it. */
interface Assignment {
  readonly segment: Segment;
  readonly startedAt: number;
  received: number;
  /** `received` at the previous tick; undefined before this assignment's first tick. */
  receivedAtLastTick: number | undefined;
  lastByteAt: number;
  waiting: boolean;
}

/** What is known of a worker's connection, carried from segment to segment. */
interface Measure {
  /** Smoothed bytes/s. */
  bytesPerSecond: number;
  /** Monotonic ms since when it has been far slower than its peers, if it is. */
  slowSince: number | undefined;
}

/**
 * Decides who fetches what (pure: no timers, no clock, no I/O; time is passed in). It owns the segment list,
 * which tiles the output, and what was measured of each worker. The run (DownloadRun, or the link simulator
 * in test/sim/) carries the decisions out: it asks `next` for work, reports `firstByte`, samples its workers
 * into `tick` every TICK_MS and applies the returned decisions, and reports `finished`.
 * Workers update `segment.done` as bytes are stored; a steal shrinks a victim's `end`, where its worker stops.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #segments: Segment[];
  /** Segments not yet handed out, in file order. */
  readonly #pending: Segment[];
  readonly #assigned = new Map<number, Assignment>();
  readonly #measures = new Map<number, Measure>();
  readonly #startedAt: number;
  readonly #doneAtStart: number;
  #nextId: number;
  #lastTickAt: number;
  /** Smoothed time to first byte of segment requests (ms), for segment sizing. */
  #ttfbMs: number | undefined;

  /** `segments` tile the output (from a plan or a resumed state); the scheduler adds to it and splits them. */
  constructor(segments: Segment[], options: SchedulerOptions, now: number) {
    this.#options = options;
    this.#segments = segments;
    this.#pending = segments
      .filter((s) => !isComplete(s) || options.mode === "stream")
      .sort((a, b) => a.start - b.start);
    this.#nextId = Math.max(-1, ...segments.map((s) => s.id)) + 1;
    this.#doneAtStart = segments.reduce((sum, s) => sum + s.done, 0);
    this.#startedAt = now;
    this.#lastTickAt = now;
  }

  /** The live segment list (do not mutate). */
  get segments(): readonly Segment[] {
    return this.#segments;
  }

  /** Smoothed bytes/s of `worker`'s connection as last measured (0 before the first tick). */
  rateOf(worker: number): number {
    return this.#measures.get(worker)?.bytesPerSecond ?? 0;
  }

  /**
   * The next work for an idle `worker`: the back half of a slow segment at the hash frontier, else a segment
   * carved off the front in file order, else half of the largest segment in flight; undefined when there is
   * nothing left worth a request.
   */
  next(worker: number, now: number): Work | undefined {
    this.#assigned.delete(worker);
    const work = this.#stealFrontier(now) ?? this.#nextInOrder(now) ?? this.#steal(now);
    if (work !== undefined) {
      this.#assigned.set(worker, {
        segment: work.segment,
        startedAt: now,
        received: 0,
        receivedAtLastTick: undefined,
        lastByteAt: now,
        waiting: false,
      });
    }
    return work;
  }

  /** A request of `worker` got its response head `ms` after it was sent. */
  firstByte(_worker: number, ms: number): void {
    this.#ttfbMs = this.#ttfbMs === undefined ? ms : this.#ttfbMs * 0.8 + ms * 0.2;
  }

  /** `worker` is done with its segment (complete, or failed for good). */
  finished(worker: number): void {
    this.#assigned.delete(worker);
  }

  /**
   * Every TICK_MS: takes each busy worker's counters (`sample` returns undefined for an idle one), updates
   * the measured rates, and returns what to abort: a stalled attempt, or a connection far slower than its
   * peers for longer than the grace period (re-requested at once on a fresh connection).
   */
  tick(now: number, sample: (worker: number) => WorkerSample | undefined): Decision[] {
    const decisions: Decision[] = [];
    const dt = (now - this.#lastTickAt) / 1000;
    this.#lastTickAt = now;
    for (const [worker, a] of this.#assigned) {
      const s = sample(worker);
      if (s === undefined) continue;
      a.received = s.received;
      a.lastByteAt = s.lastByteAt;
      a.waiting = s.waiting;
      if (!a.waiting && now - a.lastByteAt > this.#options.stallTimeoutMs) {
        decisions.push({ kind: "stalled", worker });
      }
      const previous = a.receivedAtLastTick ?? a.received;
      a.receivedAtLastTick = a.received;
      const m = this.#measure(worker);
      if (dt > 0) m.bytesPerSecond = m.bytesPerSecond * 0.7 + ((a.received - previous) / dt) * 0.3;
    }
    for (const worker of this.#slowToRestart(now)) decisions.push({ kind: "slow", worker });
    return decisions;
  }

  #measure(worker: number): Measure {
    let m = this.#measures.get(worker);
    if (m === undefined) {
      m = { bytesPerSecond: 0, slowSince: undefined };
      this.#measures.set(worker, m);
    }
    return m;
  }

  /** Workers far slower than the median of the connections moving bytes, for longer than the grace. */
  #slowToRestart(now: number): number[] {
    const policy = this.#options.slowPolicy ?? DEFAULT_SLOW_POLICY;
    const active = [...this.#assigned].filter(([, a]) => !a.waiting && now - a.lastByteAt < 1_000);
    const median = medianRate(
      active.map(([worker]) => ({
        worker,
        bytesPerSecond: this.#measure(worker).bytesPerSecond,
        slowForMs: 0,
        remainingBytes: 0,
      })),
    );
    for (const [worker] of active) {
      const m = this.#measure(worker);
      m.slowSince = isSlow(m.bytesPerSecond, median, policy) ? (m.slowSince ?? now) : undefined;
    }
    const rates = active.map(([worker, a]) => {
      const m = this.#measure(worker);
      return {
        worker,
        bytesPerSecond: m.bytesPerSecond,
        slowForMs: m.slowSince === undefined ? 0 : now - m.slowSince,
        remainingBytes: remainingOf(a.segment),
      };
    });
    const restart = slowConnections(rates, policy);
    for (const worker of restart) {
      // A fresh connection starts with a clean slate, at the median.
      const m = this.#measure(worker);
      m.slowSince = undefined;
      m.bytesPerSecond = median;
    }
    return restart;
  }

  /**
   * The next work in file order: a segment carved off the front of the first untouched pending segment
   * (sized by `nextSegmentBytes`), or a resumed segment as it is.
   */
  #nextInOrder(now: number): Work | undefined {
    const pending = this.#pending;
    const { mode, minSplitBytes } = this.#options;
    for (;;) {
      const head = pending[0];
      if (head === undefined) return undefined;
      if (isComplete(head) && mode === "range") {
        pending.shift();
        continue;
      }
      if (head.done > 0 || mode !== "range") {
        pending.shift();
        return { segment: head, kind: "resumed", victim: undefined };
      }
      const size = nextSegmentBytes({
        unassignedBytes: pending.reduce((sum, s) => sum + remainingOf(s), 0),
        connections: this.#options.connections,
        minSegmentBytes: minSplitBytes,
        perConnectionRate: this.#perConnectionRate(now),
        timeToFirstByteMs: this.#ttfbMs,
      });
      if (lengthOf(head) <= size + minSplitBytes) {
        pending.shift();
        return { segment: head, kind: "carved", victim: undefined };
      }
      const segment: Segment = { id: this.#nextId++, start: head.start, end: head.start + size - 1, done: 0 };
      head.start = segment.end + 1;
      this.#segments.push(segment);
      return { segment, kind: "carved", victim: undefined };
    }
  }

  /** Mean bytes/s of one connection so far this run, once there is something to measure. */
  #perConnectionRate(now: number): number | undefined {
    const seconds = (now - this.#startedAt) / 1000;
    const connections = Math.max(1, this.#assigned.size);
    let done = 0;
    for (const s of this.#segments) done += s.done;
    const bytes = done - this.#doneAtStart;
    return seconds > 0.2 && bytes > 0 ? bytes / seconds / connections : undefined;
  }

  /** Average bytes/s of a worker's current segment so far (undefined while too young to say). */
  #averageRate(a: Assignment, now: number): number | undefined {
    const seconds = (now - a.startedAt) / 1000;
    return seconds < 0.1 || a.received === 0 ? undefined : a.received / seconds;
  }

  /** End game: half of the largest segment in flight that its connection would not finish soon anyway. */
  #steal(now: number): Work | undefined {
    if (this.#options.mode !== "range") return undefined;
    // A segment that will be done within half a second is not worth splitting: the bytes its connection
    // already has in flight past the split point would be fetched twice, for no gain in time.
    const worthSplitting = [...this.#assigned.values()].filter((a) => {
      const rate = this.#averageRate(a, now);
      return rate === undefined || remainingOf(a.segment) / rate > MIN_SPLIT_REMAINING_SECONDS;
    });
    const minBytes = this.#options.minSplitBytes;
    return this.#carve(
      planSteal(
        worthSplitting.map((a) => a.segment),
        minBytes,
      ),
      minBytes,
      "stolen",
    );
  }

  /** Takes the back half of the segment at the hash frontier when its connection is far slower than the rest. */
  #stealFrontier(now: number): Work | undefined {
    if (this.#options.mode !== "range") return undefined;
    const inFlight = [...this.#assigned].map(([worker, a]) => {
      const seconds = (now - a.startedAt) / 1000;
      // A connection is measured after a quarter second; until the first tick, by its average so far.
      const smoothed = this.rateOf(worker);
      const measured = smoothed > 0 ? smoothed : a.received / Math.max(seconds, 1e-3);
      return { segment: a.segment, bytesPerSecond: seconds < 0.25 ? undefined : measured };
    });
    // Smaller segments than a plain steal takes: a few hundred KiB at the frontier can hold the hash for a second.
    const minBytes = Math.min(this.#options.minSplitBytes, FRONTIER_MIN_STEAL_BYTES);
    const policy = this.#options.slowPolicy ?? DEFAULT_SLOW_POLICY;
    return this.#carve(
      planFrontierSteal(inFlight, minBytes, policy.ratio, MIN_SPLIT_REMAINING_SECONDS),
      minBytes,
      "frontier",
    );
  }

  /**
   * Applies a steal: the victim ends before the split, a new segment takes the rest. The split moves past
   * what the victim's connection likely has in flight (its rate times IN_FLIGHT_SECONDS), bytes it would
   * otherwise receive and drop: on loopback that is megabytes per steal.
   */
  #carve(proposed: StealPlan | undefined, minStealBytes: number, kind: Work["kind"]): Work | undefined {
    if (proposed === undefined) return undefined;
    let rate = 0;
    for (const [worker, a] of this.#assigned) if (a.segment === proposed.victim) rate = this.rateOf(worker);
    const plan = pastInFlight(proposed, rate * IN_FLIGHT_SECONDS, minStealBytes);
    const stolen: Segment = { id: this.#nextId++, start: plan.splitAt, end: plan.victim.end, done: 0 };
    plan.victim.end = plan.splitAt - 1;
    this.#segments.push(stolen);
    return { segment: stolen, kind, victim: plan.victim };
  }
}
