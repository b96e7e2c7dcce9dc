import { rm } from "node:fs/promises";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { InterruptedError, StorageError } from "../errors.ts";
import { logger } from "../log.ts";
import { CheckpointPacer, checkpointPace } from "./checkpoint-pacer.ts";
import { finalizeDownload } from "./finalize.ts";
import { nextPieceBytes } from "./plan.ts";
import { PrefixHasher } from "./prefix-hasher.ts";
import { credentialOriginOf, type PreparedDownload } from "./prepare.ts";
import { isComplete, lengthOf, remainingOf, type Segment } from "./segment.ts";
import { DEFAULT_SLOW_POLICY, isSlow, medianRate, slowConnections } from "./slow-connection.ts";
import { writeStateFile } from "./state-file.ts";
import { pastInFlight, planFrontierSteal, planSteal, type StealPlan } from "./steal.ts";
import { createSink } from "./storage/create-sink.ts";
import type { SegmentWriter, Sink } from "./storage/sink.ts";
import { TokenBucket } from "./token-bucket.ts";
import { algorithmsFor, type VerifiedFile } from "./verify.ts";
import { fetchSegment, SlowRestart, StallAbort, type WorkerActivity } from "./worker.ts";
import { Writeback } from "./writeback.ts";

/** Where a run is: fetching bytes, verifying and placing the file, or done. */
export type EnginePhase = "running" | "verifying" | "done";

/** Plain counters the meter samples; reading them never blocks a worker. */
export interface EngineStatus {
  readonly phase: EnginePhase;
  /** Bytes of the output on disk, including those from earlier runs. */
  readonly bytesDone: number;
  /** Bytes received by this process. */
  readonly bytesThisRun: number;
  readonly totalBytes: number | undefined;
  readonly segments: readonly Segment[];
  readonly activity: readonly WorkerActivity[];
}

/** Abort reason used by a pause: workers stop, state is saved, the run ends with `InterruptedError`. */
export class PauseRequest extends Error {
  constructor(readonly source: string) {
    super(`paused by ${source}`);
    this.name = "PauseRequest";
  }
}

const TICK_MS = 250;
/** Per-connection records (attempts, retries, slow restarts): `DLM_LOG=worker=debug` turns them on alone. */
const WORKER_LOG = logger("worker");
/** Seconds of a connection's rate assumed to be in flight (socket buffers, a round trip) when it is split. */
const IN_FLIGHT_SECONDS = 0.1;
/** A piece its connection finishes sooner than this (s) is not split: its in-flight bytes would be lost. */
const MIN_SPLIT_REMAINING_SECONDS = 0.5;
/** Smallest half taken off a slow piece at the hash frontier (see planFrontierSteal). */
const FRONTIER_MIN_STEAL_BYTES = 256 << 10;
/** Dirty bytes that start a background flush (see writeback.ts). */
const WRITEBACK_BYTES = 16 << 20;

/**
 * Runs one prepared download to a verified file under its final name. Workers (one per connection) take
 * segments, steal halves of the largest remaining one when idle, and retry from the byte where they stopped.
 * Durable progress is checkpointed to state.json every 100 ms to 1 s (checkpoint-pacer.ts); a pause (signal
 * aborted with a `PauseRequest`) flushes, checkpoints and throws `InterruptedError`; any other failure checkpoints too,
 * so nothing fetched is lost.
 */
export class DownloadRun {
  readonly #ctx: Context;
  readonly #prepared: PreparedDownload;
  readonly #log: Logger;
  readonly #segments: Segment[];
  readonly #activity: WorkerActivity[] = [];
  readonly #writers = new Map<number, SegmentWriter>();
  readonly #sink: Sink;
  #bytesThisRun = 0;
  #phase: EnginePhase = "running";
  readonly #onPhase: (phase: EnginePhase) => void;
  #nextId: number;
  #checkpointing: Promise<void> | undefined;
  #checkpointPending = false;
  readonly #startedAt: number;
  /** Smoothed time to first byte of segment requests (ms), for piece sizing. */
  #ttfbMs: number | undefined;
  #lastTickAt: number;
  readonly #receivedAtLastTick = new WeakMap<WorkerActivity, number>();
  /**
   * Each worker's smoothed bytes/s and slow clock, carried from piece to piece: a piece is often shorter
   * than the slow grace, and a fresh start at 0 would also drag the median down.
   */
  readonly #workerSpeed = new Map<number, { bytesPerSecond: number; slowSince: number | undefined }>();
  /** Speed limits every connection's reads are charged to: the download's own (see `setLimit`). */
  readonly #limits: TokenBucket[];
  readonly #ownLimit: TokenBucket;
  /** Hash on arrival; told at every tick and whenever a piece ends that more of the prefix is readable. */
  #prefix: PrefixHasher | undefined;

  /** `onPhase` hears each phase change synchronously, as it happens (the Controller holds the state). */
  constructor(
    ctx: Context,
    prepared: PreparedDownload,
    log: Logger,
    onPhase: (phase: EnginePhase) => void = () => {},
  ) {
    this.#ctx = ctx;
    this.#onPhase = onPhase;
    this.#prepared = prepared;
    this.#log = log;
    this.#segments = prepared.segments;
    this.#nextId = Math.max(-1, ...this.#segments.map((s) => s.id)) + 1;
    this.#startedAt = ctx.monotonic();
    this.#lastTickAt = this.#startedAt;
    this.#ownLimit = new TokenBucket(prepared.request.limitBytesPerSec);
    this.#limits = [this.#ownLimit];
    this.#sink = createSink(
      prepared.state.storage,
      prepared.sidecar,
      prepared.mode === "range" ? prepared.first : 0,
    );
  }

  /** Changes the download's speed limit while it runs (bytes/s; undefined lifts it). */
  setLimit(bytesPerSecond: number | undefined): void {
    this.#ownLimit.setRate(bytesPerSecond, this.#ctx.monotonic());
  }

  /** A cheap view for progress; the arrays are live, do not mutate them. */
  status(): EngineStatus {
    let bytesDone = 0;
    for (const s of this.#segments) bytesDone += s.done;
    return {
      phase: this.#phase,
      bytesDone,
      bytesThisRun: this.#bytesThisRun,
      totalBytes:
        this.#prepared.last === undefined ? undefined : this.#prepared.last - this.#prepared.first + 1,
      segments: this.#segments,
      activity: this.#activity,
    };
  }

  /** Downloads, verifies and places the file; see the class comment for how it ends otherwise. */
  async run(signal: AbortSignal): Promise<VerifiedFile> {
    const prepared = this.#prepared;
    await this.#sink.open(
      this.#segments,
      prepared.last === undefined ? undefined : prepared.last - prepared.first + 1,
    );
    const prefix = new PrefixHasher(
      algorithmsFor(prepared.state.checksum),
      this.#sink,
      () => [...this.#segments].sort((a, b) => a.start - b.start),
      (segment) => this.#writers.get(segment.id)?.readableBytes ?? segment.done,
      prepared.mode === "range" ? prepared.first : 0,
    );
    this.#prefix = prefix;
    const firstCheckpointAt = this.#ctx.monotonic();
    await this.#checkpoint();
    const stop = new AbortController();
    const combined = AbortSignal.any([signal, stop.signal]);
    const writeback = new Writeback({
      flush: () => this.#sink.writeback(),
      written: () => this.#bytesThisRun,
      thresholdBytes: WRITEBACK_BYTES,
      onError: (error) => stop.abort(error),
    });
    const timer = setInterval(() => {
      this.#tick(prefix);
      writeback.poke();
    }, TICK_MS);
    // As often as every 100 ms while checkpoints are cheap, at least every --checkpoint-interval.
    const pacer = new CheckpointPacer(
      checkpointPace(prepared.request.checkpointIntervalMs),
      firstCheckpointAt,
    );
    pacer.finish(this.#ctx.monotonic());
    const checkpointer = setInterval(() => {
      if (this.#checkpointBusy || !pacer.due(this.#ctx.monotonic())) return;
      pacer.start(this.#ctx.monotonic());
      this.#checkpoint(true).then(
        () => {
          pacer.finish(this.#ctx.monotonic());
          this.#log.debug("checkpoint cost {cost_ms} ms", { cost_ms: pacer.costMs });
        },
        (error: unknown) => stop.abort(error),
      );
    }, pacer.pace.minMs / 5);
    let failure: unknown;
    try {
      const pending = this.#segments
        .filter((s) => !isComplete(s) || prepared.mode === "stream")
        .sort((a, b) => a.start - b.start);
      const workers = prepared.mode === "stream" ? 1 : prepared.request.connections;
      const results = await Promise.allSettled(
        Array.from({ length: workers }, (_, worker) =>
          this.#workerLoop(worker, pending, combined).catch((error: unknown) => {
            // The first fatal error stops every other worker; later ones are consequences.
            if (!stop.signal.aborted) stop.abort(error);
            throw error;
          }),
        ),
      );
      const rejected = results.find((r) => r.status === "rejected");
      if (rejected !== undefined) failure = signal.aborted ? signal.reason : stop.signal.reason;
      // A pause that came after the last byte but before this point was accepted: honour it (every piece
      // is complete, so a resume goes straight to verifying). From here on, pause and cancel are refused.
      else if (signal.aborted) failure = signal.reason;
      else this.#setPhase("verifying");
    } finally {
      clearInterval(timer);
      clearInterval(checkpointer);
      await writeback.stop();
      await this.#checkpointing?.catch(() => undefined);
    }
    if (failure !== undefined) {
      await this.#checkpoint().catch((error: unknown) =>
        this.#log.error("final checkpoint failed: {error}", { error }),
      );
      await this.#sink.close().catch(() => undefined);
      prefix.close();
      if (failure instanceof StorageError && failure.hint !== undefined) {
        // Storage does not know the output's name; the user needs the exact command.
        throw new StorageError(failure.message, {
          file: failure.file,
          cause: failure.cause,
          hint: `${failure.hint}: dlm resume ${prepared.output}`,
        });
      }
      if (failure instanceof PauseRequest) {
        throw new InterruptedError(
          `${prepared.output}: paused (${failure.source}); resume with: dlm resume ${prepared.output}`,
          {
            file: prepared.output,
            url: prepared.remote.url,
          },
        );
      }
      throw failure;
    }
    const lastByteAt = this.#ctx.monotonic();
    let verified: VerifiedFile;
    try {
      verified = await finalizeDownload({
        prepared,
        sink: this.#sink,
        segments: this.#segments,
        prefix,
      });
    } catch (error) {
      await this.#sink.close().catch(() => undefined);
      throw error;
    }
    this.#setPhase("done");
    if (verified.completeness === "unverified") {
      this.#log.warn("the server sent no size: completeness of {bytes} bytes is unverified", {
        bytes: verified.bytes,
      });
    }
    this.#log.info("verified {bytes} bytes, {verify_ms} ms after the last byte", {
      bytes: verified.bytes,
      verify_ms: Math.round(this.#ctx.monotonic() - lastByteAt),
      elapsed_ms: Math.round(this.#ctx.monotonic() - this.#startedAt),
    });
    await rm(prepared.sidecar, { recursive: true, force: true });
    return verified;
  }

  #setPhase(phase: EnginePhase): void {
    this.#phase = phase;
    this.#onPhase(phase);
  }

  async #workerLoop(worker: number, pending: Segment[], signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const segment = this.#stealFrontier() ?? this.#nextPiece(pending) ?? this.#steal();
      if (segment === undefined) return;
      await this.#fetch(worker, segment, signal);
    }
  }

  /**
   * The next work in file order: a piece carved off the front of the first untouched pending segment
   * (sized by `nextPieceBytes`), or a resumed segment as it is.
   */
  #nextPiece(pending: Segment[]): Segment | undefined {
    for (;;) {
      const head = pending[0];
      if (head === undefined) return undefined;
      if (isComplete(head) && this.#prepared.mode === "range") {
        pending.shift();
        continue;
      }
      if (head.done > 0 || this.#prepared.mode !== "range") return pending.shift();
      const minPiece = this.#prepared.request.minSplitBytes;
      const size = nextPieceBytes({
        unassignedBytes: pending.reduce((sum, s) => sum + remainingOf(s), 0),
        connections: this.#prepared.request.connections,
        minPieceBytes: minPiece,
        perConnectionRate: this.#perConnectionRate(),
        timeToFirstByteMs: this.#ttfbMs,
      });
      if (lengthOf(head) <= size + minPiece) return pending.shift();
      const piece: Segment = { id: this.#nextId++, start: head.start, end: head.start + size - 1, done: 0 };
      head.start = piece.end + 1;
      this.#segments.push(piece);
      return piece;
    }
  }

  /** Mean bytes/s of one connection so far this run, once there is something to measure. */
  #perConnectionRate(): number | undefined {
    const seconds = (this.#ctx.monotonic() - this.#startedAt) / 1000;
    const connections = Math.max(1, this.#activity.length);
    return seconds > 0.2 && this.#bytesThisRun > 0 ? this.#bytesThisRun / seconds / connections : undefined;
  }

  #steal(): Segment | undefined {
    if (this.#prepared.mode !== "range") return undefined;
    const now = this.#ctx.monotonic();
    // A piece that will be done within half a second is not worth splitting: the bytes its connection
    // already has in flight past the split point would be fetched twice, for no gain in time.
    const worthSplitting = this.#activity.filter((a) => {
      const seconds = (now - a.startedAt) / 1000;
      if (seconds < 0.1 || a.received === 0) return true;
      return remainingOf(a.segment) / (a.received / seconds) > MIN_SPLIT_REMAINING_SECONDS;
    });
    const minBytes = this.#prepared.request.minSplitBytes;
    return this.#carve(
      planSteal(
        worthSplitting.map((a) => a.segment),
        minBytes,
      ),
      minBytes,
    );
  }

  /** Takes the back half of the piece at the hash frontier when its connection is far slower than the rest. */
  #stealFrontier(): Segment | undefined {
    if (this.#prepared.mode !== "range") return undefined;
    const now = this.#ctx.monotonic();
    const inFlight = this.#activity.map((a) => {
      const seconds = (now - a.startedAt) / 1000;
      // A connection is measured after a quarter second; until the first tick, by its average so far.
      const measured = a.bytesPerSecond > 0 ? a.bytesPerSecond : a.received / Math.max(seconds, 1e-3);
      return { segment: a.segment, bytesPerSecond: seconds < 0.25 ? undefined : measured };
    });
    // Smaller pieces than a plain steal takes: a few hundred KiB at the frontier can hold the hash for a second.
    const minBytes = Math.min(this.#prepared.request.minSplitBytes, FRONTIER_MIN_STEAL_BYTES);
    return this.#carve(
      planFrontierSteal(inFlight, minBytes, DEFAULT_SLOW_POLICY.ratio, MIN_SPLIT_REMAINING_SECONDS),
      minBytes,
    );
  }

  /**
   * Applies a steal: the victim ends before the split, a new segment takes the rest. The split moves past
   * what the victim's connection likely has in flight (its rate times IN_FLIGHT_SECONDS), bytes it would
   * otherwise receive and drop: on loopback that is megabytes per steal.
   */
  #carve(proposed: StealPlan | undefined, minStealBytes: number): Segment | undefined {
    if (proposed === undefined) return undefined;
    const rate = this.#activity.find((a) => a.segment === proposed.victim)?.bytesPerSecond ?? 0;
    const plan = pastInFlight(proposed, rate * IN_FLIGHT_SECONDS, minStealBytes);
    const stolen: Segment = { id: this.#nextId++, start: plan.splitAt, end: plan.victim.end, done: 0 };
    plan.victim.end = plan.splitAt - 1;
    this.#segments.push(stolen);
    this.#log.debug("worker stole {bytes} bytes from segment {victim}", {
      victim: plan.victim.id,
      segment: stolen.id,
      bytes: stolen.end - stolen.start + 1,
    });
    return stolen;
  }

  async #fetch(worker: number, segment: Segment, signal: AbortSignal): Promise<void> {
    const prepared = this.#prepared;
    const activity: WorkerActivity = {
      worker,
      segment,
      state: "active",
      retries: 0,
      lastByteAt: this.#ctx.monotonic(),
      attempt: new AbortController(),
      received: 0,
      startedAt: this.#ctx.monotonic(),
      bytesPerSecond: this.#workerSpeed.get(worker)?.bytesPerSecond ?? 0,
      slowSince: this.#workerSpeed.get(worker)?.slowSince,
    };
    const writer = await this.#sink.writer(segment);
    this.#writers.set(segment.id, writer);
    this.#activity.push(activity);
    const started = this.#ctx.monotonic();
    const before = segment.done;
    try {
      await fetchSegment({
        ctx: this.#ctx,
        remote: prepared.remote,
        mode: prepared.mode,
        headers: prepared.request.headers,
        credentialOrigin: credentialOriginOf(prepared.request),
        headTimeoutMs: prepared.request.stallTimeoutMs,
        writer,
        limits: this.#limits,
        activity,
        retry: prepared.request.retry,
        random: Math.random,
        signal,
        firstResponse: takeFirstResponse(prepared),
        onBytes: (bytes) => {
          this.#bytesThisRun += bytes;
        },
        onFirstByte: (ms) => {
          this.#ttfbMs = this.#ttfbMs === undefined ? ms : this.#ttfbMs * 0.8 + ms * 0.2;
        },
        log: WORKER_LOG.with({ download: prepared.output }),
      });
    } finally {
      this.#activity.splice(this.#activity.indexOf(activity), 1);
      await writer.close();
      this.#writers.delete(segment.id);
    }
    // The frontier may have just moved by a whole piece: the hash thread should not wait for the next tick.
    this.#prefix?.pump();
    this.#log.info("segment {segment} done: {bytes} bytes in {elapsed_ms} ms", {
      worker,
      segment: segment.id,
      bytes: segment.done - before,
      elapsed_ms: Math.round(this.#ctx.monotonic() - started),
      retries: activity.retries,
    });
  }

  /** Stall watchdog, slow-connection restart and hash on arrival, every tick. */
  #tick(prefix: PrefixHasher): void {
    const now = this.#ctx.monotonic();
    const dt = (now - this.#lastTickAt) / 1000;
    this.#lastTickAt = now;
    for (const activity of this.#activity) {
      if (activity.state === "active" && now - activity.lastByteAt > this.#prepared.request.stallTimeoutMs) {
        activity.attempt.abort(new StallAbort());
      }
      const previous = this.#receivedAtLastTick.get(activity) ?? activity.received;
      this.#receivedAtLastTick.set(activity, activity.received);
      if (dt > 0)
        activity.bytesPerSecond = activity.bytesPerSecond * 0.7 + ((activity.received - previous) / dt) * 0.3;
    }
    this.#restartSlowConnections(now);
    prefix.pump();
  }

  /** Re-requests, on a fresh connection, the rest of a piece whose connection is far slower than its peers. */
  #restartSlowConnections(now: number): void {
    const active = this.#activity.filter((a) => a.state === "active" && now - a.lastByteAt < 1_000);
    const median = medianRate(
      active.map((a) => ({
        worker: a.worker,
        bytesPerSecond: a.bytesPerSecond,
        slowForMs: 0,
        remainingBytes: 0,
      })),
    );
    for (const a of active)
      a.slowSince = isSlow(a.bytesPerSecond, median, DEFAULT_SLOW_POLICY) ? (a.slowSince ?? now) : undefined;
    const rates = active.map((a) => ({
      worker: a.worker,
      bytesPerSecond: a.bytesPerSecond,
      slowForMs: a.slowSince === undefined ? 0 : now - a.slowSince,
      remainingBytes: remainingOf(a.segment),
    }));
    for (const worker of slowConnections(rates)) {
      const activity = active.find((a) => a.worker === worker);
      if (activity === undefined) continue;
      activity.slowSince = undefined;
      activity.bytesPerSecond = median;
      activity.attempt.abort(new SlowRestart());
    }
    for (const a of this.#activity)
      this.#workerSpeed.set(a.worker, { bytesPerSecond: a.bytesPerSecond, slowSince: a.slowSince });
  }

  /**
   * Captures done counts, makes those bytes durable, then records them: state.json never overstates.
   * Checkpoints never overlap (they share the temp file): a call while one runs waits for it and then
   * runs once more, so the final checkpoint after a pause always reflects the final counts.
   */
  #checkpoint(periodic = false): Promise<void> {
    const next = (this.#checkpointing ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#writeCheckpoint(periodic));
    this.#checkpointing = next;
    return next;
  }

  /** True while a checkpoint is being written (the periodic timer skips instead of queueing). */
  get #checkpointBusy(): boolean {
    return this.#checkpointPending;
  }

  /** `periodic`: skip the directory fsync (see writeStateFile), which only a pause or an end needs. */
  async #writeCheckpoint(periodic: boolean): Promise<void> {
    this.#checkpointPending = true;
    try {
      const captured = this.#segments.map((s) => ({ id: s.id, start: s.start, end: s.end, done: s.done }));
      await this.#sink.sync();
      await writeStateFile(
        this.#prepared.sidecar,
        {
          ...this.#prepared.state,
          segments: captured,
          updatedAt: new Date(this.#ctx.now()).toISOString(),
        },
        { syncDirectory: !periodic },
      );
    } finally {
      this.#checkpointPending = false;
    }
  }
}

function takeFirstResponse(prepared: PreparedDownload): Response | undefined {
  const response = prepared.fullResponse;
  prepared.fullResponse = undefined;
  return response;
}
