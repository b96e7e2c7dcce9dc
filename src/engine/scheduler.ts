// Over 300 lines: the decisions of one scheduler (carve, the two steals, the split) read best side by side;
// the measuring is in worker-table.ts and worker-meter.ts, the pure sizing and split maths in plan.ts and
// steal.ts.
import { nextSegmentBytes } from "./plan.ts";
import { isComplete, lengthOf, remainingOf, type Segment } from "./segment.ts";
import { DEFAULT_SLOW_POLICY, isSlow, medianRate, type SlowPolicy } from "./slow-connection.ts";
import { type SourceEvent, type SourceLimits, type SourceStat, SourceTable } from "./source-table.ts";
import { planEvenSplit } from "./steal.ts";
import { type Assignment, WorkerTable } from "./worker-table.ts";

/** How often (ms) the run samples its workers and calls `Scheduler.tick`. */
export const TICK_MS = 100;
/** Seconds of a connection's rate assumed to be in flight (socket buffers, a round trip) when it is split. */
const IN_FLIGHT_SECONDS = 0.1;
/**
 * A segment its connection finishes sooner than this (s), or than a few of the thief's round trips, is not
 * split: the thief would barely finish sooner, and the victim's in-flight bytes past the split are lost.
 */
const MIN_SPLIT_REMAINING_SECONDS = 0.05;
/** ... that is, sooner than this many round trips (time to first byte) of a new request. */
const MIN_SPLIT_REMAINING_RTTS = 3;
/** A connection not sampled yet is judged slow from its segment's progress after this long (ms). */
const SLOW_ESTIMATE_MIN_MS = 500;
/** Smallest part taken off a slow connection's segment (see #stealFromSlow), and its smallest new segment. */
const SLOW_MIN_STEAL_BYTES = 256 << 10;
/**
 * In the end game a victim this many times slower than the thief loses parts down to SLOW_MIN_STEAL_BYTES
 * (see #steal), not only one below the slow ratio (a quarter): a connection at a third of its peers' rate is
 * not restarted, and with whole --min-split parts it held the last segments of a 128 MiB file alone (the
 * uneven link when the pacer is short of CPU: fast connections at 5-8 MiB/s, slow ones at 2).
 */
const END_GAME_SLOWER = 1.5;
/** A victim's current request is measured on its own (see #victimRate) once answered this long (ms). */
const VICTIM_REQUEST_MIN_MS = 150;
/**
 * A slow connection's new segment is at most this share of what it can fetch in the time all the work left
 * takes (see #nextInOrder): it ends a little before the others, and the rates it was sized by are noisy.
 */
const SLOW_FILL_SHARE = 0.75;

/** What the scheduler needs to know of one download. */
export interface SchedulerOptions {
  /** `range`: segments by byte ranges; `stream`: one whole-file body, never split. */
  readonly mode: "range" | "stream";
  readonly connections: number;
  /** Smallest segment worth its own request (bytes). */
  readonly minSplitBytes: number;
  /** The user chose minSplitBytes: no bigger minimum from the file's size (see FILE_FLOOR_SHARE). */
  readonly minSplitExplicit?: boolean | undefined;
  /** A connection silent this long (ms) while waiting for bytes is aborted. */
  readonly stallTimeoutMs: number;
  readonly slowPolicy?: SlowPolicy;
  /** Where the file can be fetched from (source 0 = the URL given); default: source 0 alone. */
  readonly sources?: readonly SourceLimits[];
}

/** Why a request on a source failed, as the scheduler needs to know it. */
export interface SourceFailure {
  /**
   * `limit`: 503/429 (one connection too many, if others on the source work); `error`: anything retryable;
   * `disagrees`: its answer contradicts the file (size, validator).
   */
  readonly kind: "limit" | "error" | "disagrees";
  /** For the log line. */
  readonly reason: string;
  readonly retryAfterMs?: number | undefined;
}

/** What a worker does after a failure on its source. */
export interface FailureVerdict {
  /** Give the segment back and ask for new work (another source takes it); else retry here as before. */
  readonly leave: boolean;
  /** A change of the source to log once (demoted, dropped, limited, backoff). */
  readonly event: SourceEvent | undefined;
}

/** A worker as the run saw it at a tick (its bytes the scheduler counts from its segment's `done`). */
export interface WorkerSample {
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
   * run, as it is; `stolen`: the back part of the segment in flight that would finish last (end game);
   * `slow`: the back part of a segment whose connection is far slower than its peers (nearest the hash
   * frontier first), taken before any new segment.
   */
  readonly kind: "carved" | "resumed" | "stolen" | "slow";
  /** The segment split for a steal. */
  readonly victim: Segment | undefined;
  /** The source its requests go to (0 = the URL given). */
  readonly source: number;
}

/** Something the run must do to a worker's current attempt (the segment itself continues). */
export interface Decision {
  /** `stalled`: nothing arrived for the stall timeout; `slow`: far slower than its peers, re-request. */
  readonly kind: "stalled" | "slow";
  readonly worker: number;
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
  readonly #policy: SlowPolicy;
  readonly #segments: Segment[];
  /** Segments not yet handed out, in file order. */
  readonly #pending: Segment[];
  readonly #sources: SourceTable;
  readonly #workers: WorkerTable;
  /** Set while no source takes a request (all in a Retry-After wait): idle workers wait instead of ending. */
  #blocked = false;
  /** The time of the current `next` call (steals estimate unsampled workers' rates from their progress). */
  #now = 0;
  readonly #startedAt: number;
  readonly #doneAtStart: number;
  /** Bytes this run had to fetch when it started (the file, or what a resume left). */
  readonly #workBytes: number;
  #nextId: number;
  /** Smoothed time to first byte of segment requests (ms), for segment sizing. */
  #ttfbMs: number | undefined;

  /** `segments` tile the output (from a plan or a resumed state); the scheduler adds to it and splits them. */
  #paced = false;

  constructor(segments: Segment[], options: SchedulerOptions, now: number) {
    this.#options = options;
    this.#policy = options.slowPolicy ?? DEFAULT_SLOW_POLICY;
    this.#segments = segments;
    this.#sources = new SourceTable(options.sources ?? []);
    this.#workers = new WorkerTable((source, bytes) => this.#sources.stored(source, bytes));
    this.#pending = segments
      .filter((s) => !isComplete(s) || options.mode === "stream")
      .sort((a, b) => a.start - b.start);
    this.#nextId = Math.max(-1, ...segments.map((s) => s.id)) + 1;
    this.#doneAtStart = segments.reduce((sum, s) => sum + s.done, 0);
    this.#workBytes = this.#pending.reduce((sum, s) => sum + remainingOf(s), 0);
    this.#startedAt = now;
  }

  /**
   * Under a speed limit every connection is slow on purpose and their shares of the bucket are arbitrary:
   * rates then say nothing about a connection's path, so no connection is restarted or robbed for being
   * slow (a stall is still a stall).
   */
  setPaced(paced: boolean): void {
    this.#paced = paced;
  }

  /** The live segment list (do not mutate). */
  get segments(): readonly Segment[] {
    return this.#segments;
  }

  /** True while some worker holds a segment: an idle worker may get work later (a steal), so it waits. */
  get busy(): boolean {
    return this.#workers.assigned.size > 0 || this.#blocked;
  }

  /** What is known of each source now (for progress, logs and tests). */
  sourceStats(): SourceStat[] {
    return this.#sources.stats((source) => this.#workers.connectionsOn(source));
  }

  /** Changes of the sources since the last call (demoted, dropped, a cap learnt, a Retry-After), to log once. */
  takeSourceEvents(): SourceEvent[] {
    return this.#sources.takeEvents();
  }

  /** The source of `worker`'s current or last request. */
  sourceOf(worker: number): number | undefined {
    return this.#workers.sourceOf(worker);
  }

  /** Since when (monotonic ms) `worker`'s connection has been far slower than its peers, if it is. */
  slowSinceOf(worker: number): number | undefined {
    return this.#workers.slowSinceOf(worker);
  }

  /** Smoothed bytes/s of `worker`'s connection as last measured (0 while not measured). */
  rateOf(worker: number): number {
    return this.#workers.rateOf(worker) ?? 0;
  }

  /**
   * The next work for an idle `worker`: the back part of a slow connection's segment, else a segment
   * carved off the front in file order, else part of the segment in flight that would finish last;
   * undefined when there is nothing left worth a request.
   */
  next(worker: number, now: number): Work | undefined {
    this.#now = now;
    this.#release(worker);
    this.#workers.meter(worker, now);
    const source = this.#sources.choose(this.#workers.sourceOf(worker), now, (s) =>
      this.#workers.connectionsOn(s, worker),
    );
    this.#blocked = source === undefined && this.#sources.waitingUntil(now) !== undefined;
    if (source === undefined) return undefined;
    // The worker fetches from the source chosen for it, whatever it does there: moving it elsewhere for a
    // steal would leave its source a connection short (a mirror at its total cap with 3 of its 4) and crowd
    // the other past its cap. A slow source's tail is not fetched from it again: on a source slow against
    // its peers the worker neither robs nor steals (see #sourceIsSlow), it takes segments it finishes in time.
    const work =
      this.#stealFromSlow(worker, source) ??
      this.#nextInOrder(worker, now, source) ??
      this.#steal(worker, source);
    if (work !== undefined) this.#workers.assign(worker, work.segment, now, work.source);
    return work;
  }

  /**
   * Hands `worker` the pending segment `id` whole (the probe's answer already carries its bytes: see
   * PreparedDownload.headResponse); undefined when it is not pending.
   */
  take(worker: number, id: number, now: number): Work | undefined {
    const index = this.#pending.findIndex((s) => s.id === id);
    const segment = this.#pending[index];
    if (segment === undefined) return undefined;
    this.#pending.splice(index, 1);
    this.#release(worker);
    this.#workers.meter(worker, now);
    this.#workers.assign(worker, segment, now, 0);
    // The probe's answer: an open connection on source 0 (see `failed`'s count of them).
    const assigned = this.#workers.assigned.get(worker);
    if (assigned !== undefined) assigned.answered = true;
    return { segment, kind: "resumed", victim: undefined, source: 0 };
  }

  /**
   * A request of `worker` got its response head `ms` after it was sent (`now`: when; default the time it was
   * handed its work plus `ms`).
   */
  firstByte(worker: number, ms: number, now?: number): void {
    this.#ttfbMs = this.#ttfbMs === undefined ? ms : this.#ttfbMs * 0.8 + ms * 0.2;
    const source = this.#workers.sourceOf(worker);
    if (source !== undefined) this.#sources.firstByte(source, ms);
    const a = this.#workers.assigned.get(worker);
    if (a !== undefined) {
      a.answered = true;
      a.timed = true;
      this.#workers.answeredAt(worker, now ?? a.assignedAt + ms);
    }
    if (source !== undefined)
      this.#sources.answered(source, this.#workers.connectionsOn(source, undefined, true));
  }

  /**
   * `worker` is done with its segment: complete, failed for good, or given back after a failure on its
   * source (see `failed`): the bytes it still needs go back to the pending work, for any source.
   */
  finished(worker: number, now?: number): void {
    this.#release(worker, now);
  }

  /**
   * A request of `worker` failed on its source: the source learns (a connection cap from a 503/429 while
   * others on it work, which is no failure; errors that demote, then drop it; a Retry-After for itself
   * alone), and the worker leaves it when another source can take the segment now.
   */
  failed(worker: number, failure: SourceFailure, now: number): FailureVerdict {
    const source = this.#workers.sourceOf(worker);
    if (source === undefined) return { leave: false, event: undefined };
    let event: SourceEvent | undefined;
    // Those that were answered: several refused at once must not count each other.
    const open = this.#workers.connectionsOn(source, worker, true);
    if (failure.kind === "limit" && open > 0) {
      event = this.#sources.limited(source, open, failure.retryAfterMs, now);
    } else {
      event = this.#sources.failed(source, failure.reason, now, {
        retryAfterMs: failure.retryAfterMs,
        disagrees: failure.kind === "disagrees",
      });
    }
    if (this.#options.mode !== "range") return { leave: false, event };
    const elsewhere = this.#sources.openOther(source, now, (s) => this.#workers.connectionsOn(s, worker));
    const leave =
      this.#sources.stateOf(source) === "dropped" || elsewhere || (failure.kind === "limit" && open > 0);
    return { leave, event };
  }

  /**
   * Bytes `source` sent failed their hash (a piece, or the whole file when sources were compared): it is
   * dropped like a source that disagrees on the file, unless it is the last one left.
   */
  sentBadBytes(source: number, now: number): void {
    this.#sources.failed(source, "sent bytes that failed their hash", now, { disagrees: true });
  }

  /** Releases `worker`; the unfetched rest of a segment it gives back goes to the pending work. */
  #release(worker: number, now?: number): void {
    const a = this.#workers.assigned.get(worker);
    this.#workers.release(worker, now);
    if (a === undefined || this.#options.mode !== "range" || isComplete(a.segment)) return;
    if (this.#pending.includes(a.segment)) return;
    const at = this.#pending.findIndex((s) => s.start > a.segment.start);
    this.#pending.splice(at < 0 ? this.#pending.length : at, 0, a.segment);
  }

  /**
   * Every TICK_MS: takes each busy worker's counters (`sample` returns undefined for an idle one), updates
   * the measured rates, and returns what to abort: a stalled attempt, or a connection far slower than its
   * peers for longer than the grace period (re-requested at once on a fresh connection).
   */
  tick(now: number, sample: (worker: number) => WorkerSample | undefined): Decision[] {
    // A sample spans at least a few round trips, so a request waiting for its first byte is not read as a
    // dead connection; then one sample is enough to call a connection slow (policy.graceMs, 0 by default).
    const minIntervalMs = Math.max(TICK_MS * 0.75, 4 * (this.#ttfbMs ?? 0));
    const stalled = this.#workers.sample(now, sample, minIntervalMs, this.#options.stallTimeoutMs);
    for (let source = 0; source < this.#sources.size; source++) {
      const rates = this.#workers.rates("latest", source).map((r) => r.bytesPerSecond);
      this.#sources.sample(source, this.#workers.connectionsOn(source), rates, now);
    }
    const slow = this.#paced ? [] : this.#workers.slowToRestart(now, this.#policy);
    return [
      ...stalled.map((worker): Decision => ({ kind: "stalled", worker })),
      ...slow.map((worker): Decision => ({ kind: "slow", worker })),
    ];
  }

  /** Time to first byte of a new request (s), as measured so far. */
  get #startSeconds(): number {
    return (this.#ttfbMs ?? 0) / 1000;
  }

  /**
   * The next work in file order: a segment carved off the front of the first untouched pending segment
   * (sized by `nextSegmentBytes`, and in proportion for a worker slower than the median), or a resumed
   * segment as it is.
   */
  #nextInOrder(worker: number, now: number, source: number): Work | undefined {
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
        return { segment: head, kind: "resumed", victim: undefined, source };
      }
      let inFlightBytes = 0;
      for (const a of this.#workers.assigned.values()) inFlightBytes += remainingOf(a.segment);
      let size = nextSegmentBytes({
        unassignedBytes: pending.reduce((sum, s) => sum + remainingOf(s), 0),
        inFlightBytes,
        connections: this.#options.connections,
        minSegmentBytes: minSplitBytes,
        perConnectionRate: this.#perConnectionRate(now),
        timeToFirstByteMs: this.#ttfbMs,
        fileBytes: this.#options.minSplitExplicit === true ? undefined : this.#workBytes,
      });
      // A slow connection gets a segment it finishes in about the time its peers finish theirs, and none
      // when even that would outlast all the work left at the current rates: it would end the download last.
      // On a slow source (or connection) that is at most the part of the time left it can fill: small last
      // segments there keep it busy until near the end, instead of idle for the last one's whole length.
      const own = this.#rateAt(worker, source);
      const median = this.#workers.median();
      if (!this.#paced && own !== undefined && median > 0 && own < median) {
        size = Math.max(minSplitBytes, Math.round((size * own) / median));
        if (isSlow(own, median, this.#policy)) {
          const fits = own * this.#secondsLeft(own) * SLOW_FILL_SHARE;
          const smallest = Math.min(minSplitBytes, SLOW_MIN_STEAL_BYTES);
          if (fits < smallest) return undefined;
          size = Math.max(smallest, Math.min(size, Math.round(fits)));
        }
      }
      // The rest of the head goes with this segment when what would be left is too small to be its own.
      if (lengthOf(head) - size < Math.min(size, minSplitBytes)) {
        pending.shift();
        return { segment: head, kind: "carved", victim: undefined, source };
      }
      const segment: Segment = { id: this.#nextId++, start: head.start, end: head.start + size - 1, done: 0 };
      head.start = segment.end + 1;
      this.#segments.push(segment);
      return { segment, kind: "carved", victim: undefined, source };
    }
  }

  /** Seconds until all work left (unassigned and in flight) is done at the busy workers' rates plus `own`. */
  #secondsLeft(own: number): number {
    let pending = 0;
    for (const s of this.#pending) pending += remainingOf(s);
    return this.#workers.secondsLeft(own, pending, this.#now);
  }

  /** Mean bytes/s of one connection so far this run, once there is something to measure. */
  #perConnectionRate(now: number): number | undefined {
    const seconds = (now - this.#startedAt) / 1000;
    const connections = Math.max(1, this.#workers.assigned.size);
    let done = 0;
    for (const s of this.#segments) done += s.done;
    const bytes = done - this.#doneAtStart;
    return seconds > 0.2 && bytes > 0 ? bytes / seconds / connections : undefined;
  }

  /**
   * Seconds a worker's segment still needs at its measured rate (the median while not measured); a worker
   * waiting out a retry backoff moves nothing, so its segment is the first to take from.
   */
  #projectedSeconds(worker: number, a: Assignment, median: number): number {
    if (remainingOf(a.segment) === 0) return 0;
    if (a.waiting) return 1e9 + remainingOf(a.segment);
    const rate = this.#victimRate(worker) ?? median;
    return remainingOf(a.segment) / Math.max(rate, 1);
  }

  /**
   * A victim's rate for the end game: its measured rate, or what its current request moved since its answer
   * when that is lower (over VICTIM_REQUEST_MIN_MS at least): a worker whose new request landed on a slow
   * connection must not be split as if it still had its fast one.
   */
  #victimRate(worker: number): number | undefined {
    const estimate = this.#workers.estimateOf(worker, this.#now);
    const request = this.#workers.requestRateOf(worker, this.#now, VICTIM_REQUEST_MIN_MS);
    if (request === undefined) return estimate;
    return estimate === undefined ? request : Math.min(estimate, request);
  }

  /** The thief's measured rate, if its request goes to the source it was measured on (else unknown). */
  #thiefRate(thief: number, source: number): number | undefined {
    return this.#workers.sourceOf(thief) === source ? this.#workers.rateOf(thief) : undefined;
  }

  /**
   * What the thief will fetch at on `source`: its measured rate there, else the rate of one connection on
   * `source` (unknown while that source is not measured). A worker moving from a fast mirror to one eight
   * times slower must not size its part by the rate it had: it would end the download last.
   */
  #rateAt(thief: number, source: number): number | undefined {
    return this.#thiefRate(thief, source) ?? this.#sources.perConnectionRate(source);
  }

  /**
   * True when one connection on `source` is far slower than the median of all measured connections: a
   * worker there takes no part of another's segment (a slow source's tail is not fetched from it again).
   */
  #sourceIsSlow(source: number): boolean {
    if (this.#paced) return false;
    const rate = this.#sources.perConnectionRate(source);
    return rate !== undefined && isSlow(rate, medianRate(this.#workers.peerRates()), this.#policy);
  }

  /** Below this (s) left, a segment is not worth splitting (see MIN_SPLIT_REMAINING_SECONDS). */
  get #minSplitSeconds(): number {
    return Math.max(MIN_SPLIT_REMAINING_SECONDS, MIN_SPLIT_REMAINING_RTTS * this.#startSeconds);
  }

  /** End game: the segment in flight that would finish last, split so that both parts finish together. */
  #steal(thief: number, source: number): Work | undefined {
    if (this.#options.mode !== "range" || this.#sourceIsSlow(source)) return undefined;
    const median = this.#workers.median();
    let victim: [number, Assignment] | undefined;
    let longest = this.#minSplitSeconds;
    for (const entry of this.#workers.assigned) {
      // Under a speed limit only a worker waiting out a backoff is robbed: a receiving one holds bytes the
      // limiter has not let it store yet (it looks idle: done does not move while it waits) and its socket
      // buffers behind them, so a split drops them and the bucket is charged for them twice, and more
      // connections cannot beat the bucket anyway. Against the in-process origin such steals took 30-55% of
      // the limit (the robbed connection then read out its whole unwanted answer).
      if (this.#paced && !entry[1].waiting) continue;
      const seconds = this.#projectedSeconds(entry[0], entry[1], median);
      if (seconds > longest) [victim, longest] = [entry, seconds];
    }
    if (victim === undefined) return undefined;
    // All of a waiting worker's remainder, however small: nobody else would fetch it before its backoff ends.
    // From a connection END_GAME_SLOWER times slower than the thief, parts down to SLOW_MIN_STEAL_BYTES: on a
    // small file (or a slow source's last segment) a whole --min-split is most of the tail.
    const victimRate = this.#victimRate(victim[0]);
    const thiefRate = this.#thiefRate(thief, source) ?? median;
    const slower = victimRate !== undefined && victimRate * END_GAME_SLOWER <= thiefRate;
    const minBytes = victim[1].waiting
      ? 1
      : slower
        ? Math.min(this.#options.minSplitBytes, SLOW_MIN_STEAL_BYTES)
        : this.#options.minSplitBytes;
    return this.#split(victim[0], victim[1].segment, thief, minBytes, "stolen", source);
  }

  /**
   * Takes the back part of a segment whose connection is far slower than the median of its peers (below
   * the slow ratio) and would end late: the one nearest the start of the file first, since that is
   * where hash on arrival waits and where the file's contiguous prefix ends. Left alone, a slow connection
   * that no reconnect cures holds its whole segment, and at the end the whole download.
   */
  #stealFromSlow(thief: number, source: number): Work | undefined {
    if (this.#options.mode !== "range" || this.#paced || this.#sourceIsSlow(source)) return undefined;
    // The thief counts among the peers (with two connections, the other one is all there is to compare), and
    // so do the idle ones: in the end game the fast connections finish first.
    const median = medianRate(this.#workers.peerRates());
    // A slow thief would only make two slow connections of one; its faster peers will take the work.
    const own = this.#thiefRate(thief, source);
    if (median <= 0 || (own !== undefined && isSlow(own, median, this.#policy))) return undefined;
    // Only a segment that would still be fetched when half the work left is done: earlier ones end in time
    // (each split drops what the victim has in flight).
    const soon = Math.max(this.#minSplitSeconds, this.#secondsLeft(own ?? median) / 2);
    let victim: [number, Segment] | undefined;
    for (const [worker, a] of this.#workers.assigned) {
      // Measured over a tick, or over its segment so far when that is long enough: robbing a connection is
      // for a slowness that lasts (the first ticks wait a few round trips, long under load).
      const rate =
        this.#workers.rateOf(worker) ?? this.#workers.estimateOf(worker, this.#now, SLOW_ESTIMATE_MIN_MS);
      if (a.waiting || rate === undefined || !isSlow(rate, median, this.#policy)) continue;
      if (remainingOf(a.segment) / Math.max(rate, 1) <= soon) continue;
      if (victim === undefined || a.segment.start < victim[1].start) victim = [worker, a.segment];
    }
    if (victim === undefined) return undefined;
    // Smaller parts than a plain steal takes: a few hundred KiB behind a slow connection can hold the
    // hash for a second.
    const minBytes = Math.min(this.#options.minSplitBytes, SLOW_MIN_STEAL_BYTES);
    return this.#split(victim[0], victim[1], thief, minBytes, "slow", source);
  }

  /**
   * Applies a steal: the victim ends before the split, a new segment takes the rest. The split lets both
   * finish together (planEvenSplit) and stays past what the victim's connection likely has in flight (its
   * rate times IN_FLIGHT_SECONDS), bytes it would otherwise receive and drop: on loopback, megabytes.
   */
  #split(
    owner: number,
    victim: Segment,
    thief: number,
    minStealBytes: number,
    kind: Work["kind"],
    source: number,
  ): Work | undefined {
    const median = this.#workers.median();
    const victimRate = this.#workers.assigned.get(owner)?.waiting ? 0 : this.#victimRate(owner);
    const thiefRate = this.#rateAt(thief, source) ?? median;
    const plan = planEvenSplit({
      victim,
      victimBytesPerSecond: victimRate,
      thiefBytesPerSecond: thiefRate > 0 ? thiefRate : undefined,
      thiefStartSeconds: this.#startSeconds,
      inFlightBytes: (victimRate ?? 0) * IN_FLIGHT_SECONDS,
      minStealBytes,
      // The end game: nothing left to carve (earlier, a slow connection's next segment would be robbed again).
      mayTakeAll: this.#pending.every(isComplete),
    });
    if (plan === undefined) return undefined;
    const stolen: Segment = { id: this.#nextId++, start: plan.splitAt, end: plan.victim.end, done: 0 };
    plan.victim.end = plan.splitAt - 1;
    // A victim left with no bytes at all (it had none yet) leaves the list, which must tile the output with
    // non-empty ranges; its worker sees nothing remaining and moves on.
    if (lengthOf(plan.victim) === 0) this.#segments.splice(this.#segments.indexOf(plan.victim), 1);
    this.#segments.push(stolen);
    return { segment: stolen, kind, victim: plan.victim, source };
  }
}
