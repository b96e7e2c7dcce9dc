import { rm, rmdir } from "node:fs/promises";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { InterruptedError, StorageError } from "../errors.ts";
import { logger } from "../log.ts";
import { CheckpointPacer, checkpointPace } from "./checkpoint-pacer.ts";
import { finalizeDownload } from "./finalize.ts";
import { discardBody } from "./http.ts";
import { IntegrityGuard } from "./integrity-guard.ts";
import { INLINE_HASH_MAX_BYTES, PrefixHasher } from "./prefix-hasher.ts";
import { credentialOriginOf, type PreparedDownload } from "./prepare.ts";
import { TokenBucket } from "./rate-limiter.ts";
import { LinkRefresher } from "./refresh.ts";
import { readStoredSample } from "./refresh-sample.ts";
import type { RemoteFile } from "./remote-file.ts";
import { parseRetryAfter } from "./retry-policy.ts";
import { type Decision, Scheduler, type SourceFailure, TICK_MS } from "./scheduler.ts";
import { isComplete, type Segment } from "./segment.ts";
import type { SourceStat } from "./source-table.ts";
import { writeStateFile } from "./state-file.ts";
import { createSink } from "./storage/create-sink.ts";
import type { SegmentWriter, Sink } from "./storage/sink.ts";
import { algorithmsFor, type VerifiedFile } from "./verify.ts";
import {
  fetchSegment,
  SlowRestart,
  type SourceAttemptFailure,
  StallAbort,
  type WorkerActivity,
} from "./worker.ts";
import { Writeback } from "./writeback.ts";

/** Where a run is: fetching bytes, verifying and placing the file, or done. */
export type EnginePhase = "running" | "verifying" | "done";

/** Per-connection records (attempts, retries, slow restarts): `DLM_LOG=worker=debug` turns them on alone. */
const WORKER_LOG = logger("worker");

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
  /** Each source as the scheduler sees it, with the URL it was given as (progress shows them). */
  readonly sources?: readonly EngineSourceStatus[];
  /** The source of a worker's current or last request (0 = the URL given). */
  readonly sourceOf?: (worker: number) => number | undefined;
}

/** One source in an {@link EngineStatus}: the scheduler's figures and the URL as given. */
export interface EngineSourceStatus extends SourceStat {
  readonly url: string;
}

/** Abort reason used by a pause: workers stop, state is saved, the run ends with `InterruptedError`. */
export class PauseRequest extends Error {
  constructor(readonly source: string) {
    super(`paused by ${source}`);
    this.name = "PauseRequest";
  }
}

/**
 * Abort reason that ends the workers still waiting (a retry backoff, or idle for a steal) once every segment
 * is complete: the download is done, whatever they were waiting for.
 */
class AllSegmentsDone extends Error {
  constructor() {
    super("every segment is complete");
    this.name = "AllSegmentsDone";
  }
}

/**
 * `periodic`: data and state fsynced, not the directory (see writeStateFile); `final` (a pause, a failure, a
 * resumed run's first state): all of it.
 */
type CheckpointKind = "periodic" | "final";

/** Dirty bytes that start a background flush (see writeback.ts). */
const WRITEBACK_BYTES = 16 << 20;

/**
 * Runs one prepared download to a verified file under its final name. Workers (one per connection) fetch
 * the segments the Scheduler hands them (scheduler.ts decides; this class carries out: storage, checkpoints,
 * hashing, connections and their abort controllers), and retry from the byte where they stopped.
 * Durable progress is checkpointed to state.json about once a second; a pause (signal aborted with a
 * `PauseRequest`) flushes, checkpoints and throws `InterruptedError`; any other failure checkpoints too,
 * so nothing fetched is lost.
 */
export class DownloadRun {
  readonly #ctx: Context;
  readonly #prepared: PreparedDownload;
  readonly #log: Logger;
  readonly #segments: Segment[];
  readonly #scheduler: Scheduler;
  readonly #activity: WorkerActivity[] = [];
  readonly #writers = new Map<number, SegmentWriter>();
  readonly #sink: Sink;
  #bytesThisRun = 0;
  #phase: EnginePhase = "running";
  readonly #onPhase: (phase: EnginePhase) => void;
  #checkpointing: Promise<void> | undefined;
  #checkpointPending = false;
  readonly #startedAt: number;
  /** Speed limits every connection's reads are charged to: the download's own (see `setLimit`). */
  readonly #limits: TokenBucket[];
  readonly #ownLimit: TokenBucket;
  /** Wakes the idle workers (nothing to do now; a steal may come up): at every tick and segment end. */
  #wake = Promise.withResolvers<void>();
  /** Aborted with AllSegmentsDone when the last segment completes. */
  readonly #allDone = new AbortController();
  /** Hash on arrival; told at every tick and whenever a segment ends that more of the prefix is readable. */
  #prefix: PrefixHasher | undefined;
  /** Renew each source's expired signed link (refresh.ts; index = source id); workers read their target there. */
  readonly #refreshers: LinkRefresher[];
  /** Piece hashes checked as pieces complete, bad pieces and wrong sources fetched again (integrity-guard.ts). */
  readonly integrity: IntegrityGuard;
  /**
   * What each source's requests go to and are checked against (index = source id): source 0 is the probed
   * `remote`; a mirror's validators are its own, learnt from its first answer.
   */
  readonly #remotes: RemoteFile[];
  /** Which source stored which bytes this run (piece repair and whole-file recovery suspect by it). */
  readonly #served: { readonly start: number; readonly end: number; readonly source: number }[] = [];

  /**
   * `onPhase` hears each phase change synchronously, as it happens (the Controller holds the state).
   * `sharedLimits`: speed limits this download shares with others (dlm serve's global one, a batch's), or
   * that its owner changes from outside (dlm serve's per-download one); charged besides its own.
   */
  constructor(
    ctx: Context,
    prepared: PreparedDownload,
    log: Logger,
    onPhase: (phase: EnginePhase) => void = () => {},
    sharedLimits: readonly TokenBucket[] = [],
  ) {
    this.#ctx = ctx;
    this.#onPhase = onPhase;
    this.#prepared = prepared;
    this.#log = log;
    this.#ownLimit = new TokenBucket(prepared.request.limitBytesPerSec ?? 0, ctx.monotonic());
    this.#limits = [this.#ownLimit, ...sharedLimits];
    this.#segments = prepared.segments;
    this.#startedAt = ctx.monotonic();
    this.#scheduler = new Scheduler(
      this.#segments,
      {
        mode: prepared.mode,
        connections: prepared.request.connections,
        minSplitBytes: prepared.request.minSplitBytes,
        minSplitExplicit: prepared.request.minSplitExplicit,
        stallTimeoutMs: prepared.request.stallTimeoutMs,
        sources: prepared.sources.map((s) => ({
          id: s.id,
          maxConnections: s.maxConnections,
          priority: s.priority,
        })),
      },
      this.#startedAt,
    );
    this.#remotes = prepared.sources.map((s) =>
      s.id === 0
        ? prepared.remote
        : { ...prepared.remote, url: s.url, etag: s.etag, lastModified: s.lastModified },
    );
    this.#scheduler.setPaced(this.#paced());
    this.#sink = createSink(
      prepared.state.storage,
      prepared.sidecar,
      prepared.mode === "range" ? prepared.first : 0,
    );
    this.#refreshers = (this.#remotes.length > 0 ? this.#remotes : [prepared.remote]).map(
      (remote, id) =>
        new LinkRefresher({
          ctx,
          given: id === 0 ? prepared.request.url : (prepared.sources[id]?.given ?? remote.url),
          remote,
          headers: prepared.request.headers,
          credentialOrigin: credentialOriginOf(prepared.request),
          headTimeoutMs: prepared.request.stallTimeoutMs,
          output: prepared.output,
          // Source 0 only: the command mints a fresh link for the URL given (DLM_URL); it knows no mirror's.
          command: id === 0 ? prepared.request.refreshCommand : undefined,
          sample: () =>
            readStoredSample(
              this.#segments,
              (s) => this.#writers.get(s.id)?.readableBytes ?? s.done,
              this.#sink,
            ),
          log,
          source: id,
          // A mirror that now serves another file is dropped while other sources remain (docs/expiring-links.md).
          mayDrop:
            id === 0
              ? undefined
              : () => this.#scheduler.sourceStats().some((o) => o.id !== id && o.state !== "dropped"),
        }),
    );
    this.integrity = new IntegrityGuard(
      ctx,
      prepared,
      this.#sink,
      () => this.#segments,
      (segment) => this.#writers.get(segment.id)?.readableBytes ?? segment.done,
      log,
    );
    this.integrity.servedBy = (start, end) => this.#servedBy(start, end);
    this.integrity.onBadSource = (source) => this.#scheduler.sentBadBytes(source.id, this.#ctx.monotonic());
  }

  /** The source that stored the most of bytes [start, end] this run (undefined: none of them this run). */
  #servedBy(start: number, end: number): number | undefined {
    const bytesBySource = new Map<number, number>();
    for (const r of this.#served) {
      const overlap = Math.min(end, r.end) - Math.max(start, r.start) + 1;
      if (overlap > 0) bytesBySource.set(r.source, (bytesBySource.get(r.source) ?? 0) + overlap);
    }
    let best: [number, number] | undefined;
    for (const entry of bytesBySource) if (best === undefined || entry[1] > best[1]) best = entry;
    return best?.[0];
  }

  /** Changes the download's speed limit while it runs (bytes/s; undefined lifts it). */
  setLimit(bytesPerSecond: number | undefined): void {
    this.#ownLimit.setRate(bytesPerSecond ?? 0, this.#ctx.monotonic());
    this.#scheduler.setPaced(this.#paced());
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
      sources: this.#scheduler.sourceStats().map((s) => ({
        ...s,
        url: this.#prepared.sources.find((x) => x.id === s.id)?.given ?? this.#prepared.remote.url,
      })),
      sourceOf: (worker) => this.#scheduler.sourceOf(worker),
    };
  }

  /** Downloads, verifies and places the file; see the class comment for how it ends otherwise. */
  async run(signal: AbortSignal): Promise<VerifiedFile> {
    const prepared = this.#prepared;
    await this.#sink.open(
      this.#segments,
      prepared.last === undefined ? undefined : prepared.last - prepared.first + 1,
    );
    let prefix = this.#newPrefix();
    this.#prefix = prefix;
    const firstCheckpointAt = this.#ctx.monotonic();
    // A fresh download has nothing to vouch for yet: its first state comes with the first periodic checkpoint
    // (or a pause, or a failure). A sidecar without a state starts over, which is all a crash before then
    // could need, and a batch of small files saves a state write and its fsyncs per file. A resumed run
    // records its state (a --checksum given now, say) at once.
    if (prepared.resumed) await this.#checkpoint();
    const stop = new AbortController();
    const combined = AbortSignal.any([signal, stop.signal, this.#allDone.signal]);
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
      this.#checkpoint("periodic").then(
        () => {
          pacer.finish(this.#ctx.monotonic());
          this.#log.debug("checkpoint cost {cost_ms} ms", { cost_ms: pacer.costMs });
        },
        (error: unknown) => stop.abort(error),
      );
    }, pacer.pace.minMs / 5);
    let failure: unknown;
    try {
      const workers = prepared.mode === "stream" ? 1 : prepared.request.connections;
      const results = await Promise.allSettled(
        Array.from({ length: workers }, (_, worker) =>
          this.#workerLoop(worker, combined).catch((error: unknown) => {
            if (error instanceof AllSegmentsDone) return;
            // The first fatal error stops every other worker; later ones are consequences.
            if (!stop.signal.aborted) stop.abort(error);
            throw error;
          }),
        ),
      );
      const rejected = results.find((r) => r.status === "rejected");
      if (rejected !== undefined) failure = signal.aborted ? signal.reason : stop.signal.reason;
      // A pause that came after the last byte but before this point was accepted: honour it (every segment
      // is complete, so a resume goes straight to verifying). From here on, pause and cancel are refused.
      else if (signal.aborted) failure = signal.reason;
      else this.#setPhase("verifying");
    } finally {
      clearInterval(timer);
      this.#logSourceEvents();
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
    const repaired = await this.integrity.repairPieces(signal).catch(async (error: unknown) => {
      await this.#sink.close().catch(() => undefined);
      prefix.close();
      throw error;
    });
    if (repaired) {
      // Pieces fetched again were written over bytes the prefix hash already read: hash the file anew.
      prefix.close();
      prefix = this.#newPrefix();
      this.#prefix = prefix;
    }
    const lastByteAt = this.#ctx.monotonic();
    let verified: VerifiedFile;
    try {
      verified = await finalizeDownload({
        prepared,
        sink: this.#sink,
        segments: this.#segments,
        prefix,
      }).catch((error: unknown) =>
        this.integrity.recover(error, signal, () => {
          this.#prefix = this.#newPrefix();
          return finalizeDownload({
            prepared,
            sink: this.#sink,
            segments: this.#segments,
            prefix: this.#prefix,
          });
        }),
      );
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
    await removeSidecar(prepared.sidecar);
    return verified;
  }

  /** Hash on arrival of the whole file's prefix (see prefix-hasher.ts). */
  #newPrefix(): PrefixHasher {
    const prepared = this.#prepared;
    return new PrefixHasher(
      algorithmsFor(prepared.state.checksum),
      this.#sink,
      () => [...this.#segments].sort((a, b) => a.start - b.start),
      (segment) => this.#writers.get(segment.id)?.readableBytes ?? segment.done,
      prepared.mode === "range" ? prepared.first : 0,
      prepared.last !== undefined && prepared.last - prepared.first + 1 <= INLINE_HASH_MAX_BYTES,
    );
  }

  async #workerLoop(worker: number, signal: AbortSignal): Promise<void> {
    // The probe's answer carries segment 0: worker 0 reads it before anything else.
    const head = worker === 0 ? takeResponse(this.#prepared, "headResponse") : undefined;
    if (head !== undefined) {
      const work = this.#scheduler.take(worker, 0, this.#ctx.monotonic());
      if (work === undefined) void discardBody(head);
      else await this.#fetch(worker, work.segment, signal, head);
    }
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const work = this.#scheduler.next(worker, this.#ctx.monotonic());
      if (work === undefined) {
        // Others still fetch: one of them may fail or slow down and have work to take. Wait for a tick.
        if (!this.#scheduler.busy) return;
        await this.#wake.promise;
        continue;
      }
      if (work.victim !== undefined) {
        this.#log.debug("worker stole {bytes} bytes from segment {victim}", {
          worker,
          victim: work.victim.id,
          segment: work.segment.id,
          bytes: work.segment.end - work.segment.start + 1,
          kind: work.kind,
          source: work.source,
        });
      }
      await this.#fetch(worker, work.segment, signal, undefined, work.source);
    }
  }

  /** `opening`: an answer already received for this segment's range, read before any new request. */
  async #fetch(
    worker: number,
    segment: Segment,
    signal: AbortSignal,
    opening: Response | undefined = undefined,
    source = 0,
  ): Promise<void> {
    const prepared = this.#prepared;
    const remote = this.#remotes[source] ?? prepared.remote;
    const activity: WorkerActivity = {
      worker,
      segment,
      state: "active",
      retries: 0,
      lastByteAt: this.#ctx.monotonic(),
      attempt: new AbortController(),
      received: 0,
      startedAt: this.#ctx.monotonic(),
      bytesPerSecond: this.#scheduler.rateOf(worker),
      slowSince: undefined,
    };
    const writer = await this.#sink.writer(segment);
    this.#writers.set(segment.id, writer);
    this.#activity.push(activity);
    const started = this.#ctx.monotonic();
    const before = segment.done;
    try {
      await fetchSegment({
        ctx: this.#ctx,
        // The source's signed link may have been renewed (refresh.ts).
        remote: this.#refreshers[source]?.renewed ?? remote,
        // A whole-file stream starts over on a new link; only ranges continue where they stopped.
        refresh: prepared.mode === "range" ? this.#refreshers[source] : undefined,
        mode: prepared.mode,
        headers: prepared.request.headers,
        credentialOrigin: credentialOriginOf(prepared.request),
        headTimeoutMs: prepared.request.stallTimeoutMs,
        limits: this.#limits,
        writer,
        activity,
        retry: prepared.request.retry,
        random: Math.random,
        signal,
        firstResponse: opening ?? takeResponse(prepared, "fullResponse"),
        onBytes: (chunk, offset) => {
          this.#bytesThisRun += chunk.length;
          this.#prefix?.offer(offset, chunk);
        },
        onFirstByte: (ms) => this.#scheduler.firstByte(worker, ms, this.#ctx.monotonic()),
        onFailure: prepared.mode === "range" ? (failure) => this.#sourceFailed(worker, failure) : undefined,
        onValidators: (etag, lastModified) => this.#learnValidators(source, etag, lastModified),
        log: WORKER_LOG.with({ download: prepared.output }),
      });
    } finally {
      if (segment.done > before) {
        this.#served.push({ start: segment.start + before, end: segment.start + segment.done - 1, source });
      }
      this.#scheduler.finished(worker, this.#ctx.monotonic());
      this.#wakeIdle();
      if (this.#scheduler.segments.every(isComplete)) this.#allDone.abort(new AllSegmentsDone());
      this.#activity.splice(this.#activity.indexOf(activity), 1);
      await writer.close();
      this.#writers.delete(segment.id);
    }
    // The frontier may have just moved by a whole segment: the hash thread should not wait for the next tick.
    this.#prefix?.pump();
    // Given back after a failure on its source: another worker continues it.
    if (!isComplete(segment)) return;
    this.#log.info("segment {segment} done: {bytes} bytes in {elapsed_ms} ms", {
      worker,
      source,
      segment: segment.id,
      bytes: segment.done - before,
      elapsed_ms: Math.round(this.#ctx.monotonic() - started),
      retries: activity.retries,
    });
  }

  /**
   * A failed attempt on `worker`'s source: the scheduler learns (a limit, an error, a Retry-After, a
   * disagreement), a change of the source is logged once, and the worker leaves the source when another can
   * take its segment now.
   */
  #sourceFailed(worker: number, failure: SourceAttemptFailure): "leave" | "retry" {
    const now = this.#ctx.monotonic();
    let f: SourceFailure;
    if (failure.kind === "disagrees") f = { kind: "disagrees", reason: failure.reason };
    else if (failure.kind === "status") {
      const retryAfterMs = parseRetryAfter(failure.retryAfter, this.#ctx.now());
      const limit = failure.status === 503 || failure.status === 429;
      f = { kind: limit ? "limit" : "error", reason: `HTTP ${failure.status}`, retryAfterMs };
    } else f = { kind: "error", reason: failure.kind === "network" ? failure.reason : failure.kind };
    // A mirror whose renewed link is another file (refresh.ts): dropped like one that disagrees on the file.
    const gone = this.#refreshers[this.#scheduler.sourceOf(worker) ?? 0]?.gone;
    if (gone !== undefined) f = { kind: "disagrees", reason: gone };
    return this.#scheduler.failed(worker, f, now).leave ? "leave" : "retry";
  }

  /** One line per change of a source (at a tick: a cap learnt from refusals racing each other is one line). */
  #logSourceEvents(): void {
    for (const event of this.#scheduler.takeSourceEvents()) {
      const url = this.#remotes[event.source]?.url ?? "";
      const what =
        event.what === "limited"
          ? `takes at most ${event.value} connections`
          : event.what === "backoff"
            ? `asks to wait (${event.reason}, Retry-After)`
            : `${event.what} (${event.reason})`;
      this.#log.warn("source {source} {what}: {url}", { source: event.source, what, url });
    }
  }

  /** A mirror's first accepted answer tells its own validators; later answers are checked against them. */
  #learnValidators(source: number, etag: string | undefined, lastModified: string | undefined): void {
    const remote = this.#remotes[source];
    if (
      source === 0 ||
      remote === undefined ||
      remote.etag !== undefined ||
      remote.lastModified !== undefined
    )
      return;
    this.#remotes[source] = { ...remote, etag, lastModified };
  }

  /** True while any speed limit applies (the shared ones can change from outside: checked every tick). */
  #paced(): boolean {
    return this.#limits.some((bucket) => bucket.rate > 0);
  }

  #setPhase(phase: EnginePhase): void {
    this.#phase = phase;
    this.#onPhase(phase);
  }

  /** Every tick: the scheduler's stall watchdog and slow-connection restart, carried out; hash on arrival. */
  #tick(prefix: PrefixHasher): void {
    const now = this.#ctx.monotonic();
    this.#scheduler.setPaced(this.#paced());
    const byWorker = new Map(this.#activity.map((a) => [a.worker, a]));
    const decisions = this.#scheduler.tick(now, (worker) => {
      const a = byWorker.get(worker);
      return a === undefined ? undefined : { lastByteAt: a.lastByteAt, waiting: a.state === "retrying" };
    });
    for (const decision of decisions) this.#apply(decision, byWorker.get(decision.worker));
    this.#logSourceEvents();
    this.#wakeIdle();
    for (const a of this.#activity) {
      a.bytesPerSecond = this.#scheduler.rateOf(a.worker);
      a.slowSince = this.#scheduler.slowSinceOf(a.worker);
    }
    prefix.pump();
    this.integrity.tick();
  }

  #wakeIdle(): void {
    const wake = this.#wake;
    this.#wake = Promise.withResolvers<void>();
    wake.resolve();
  }

  /** Aborts the worker's current attempt; its fetch loop then retries (stall) or re-requests at once (slow). */
  #apply(decision: Decision, activity: WorkerActivity | undefined): void {
    if (activity === undefined) return;
    activity.attempt.abort(decision.kind === "stalled" ? new StallAbort() : new SlowRestart());
  }

  /**
   * Captures done counts, makes those bytes durable, then records them: state.json never overstates.
   * Checkpoints never overlap (they share the temp file): a call while one runs waits for it and then
   * runs once more, so the final checkpoint after a pause always reflects the final counts.
   */
  #checkpoint(kind: CheckpointKind = "final"): Promise<void> {
    const next = (this.#checkpointing ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.#writeCheckpoint(kind));
    this.#checkpointing = next;
    return next;
  }

  /** True while a checkpoint is being written (the periodic timer skips instead of queueing). */
  get #checkpointBusy(): boolean {
    return this.#checkpointPending;
  }

  /** See CheckpointKind for what each kind makes durable. */
  async #writeCheckpoint(kind: CheckpointKind): Promise<void> {
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
        { syncDirectory: kind === "final" },
      );
    } finally {
      this.#checkpointPending = false;
    }
  }
}

/** Hands over one of the probe's open answers, once: the first caller reads it, later ones get undefined. */
function takeResponse(
  prepared: PreparedDownload,
  which: "headResponse" | "fullResponse",
): Response | undefined {
  const response = prepared[which];
  prepared[which] = undefined;
  return response;
}

/**
 * Removes the sidecar of a placed file. Usually empty by now (a file that finished before its first checkpoint
 * never wrote state.json, and its data was moved out): one rmdir, not rm -r's open, listing and removal; a
 * sidecar with anything left in it (a state file) is removed whole.
 */
async function removeSidecar(sidecar: string): Promise<void> {
  try {
    await rmdir(sidecar);
  } catch {
    await rm(sidecar, { recursive: true, force: true });
  }
}
