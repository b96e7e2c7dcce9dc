import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { Controller, type RunOutcome } from "../control/controller.ts";
import { TokenBucket } from "../engine/rate-limiter.ts";
import { OutputExistsError } from "../errors.ts";
import type { DownloadRecord, RecordPatch, StoredEvent } from "./download-record.ts";
import { viewOf } from "./download-view.ts";
import type { LeasedJob } from "./lease-keeper.ts";
import { endPatch, type StopReason } from "./lifecycle.ts";
import type { DownloadView } from "./manager-events.ts";
import { type RunRequestOptions, runPlace, runRequest } from "./run-request.ts";
import { StartGate } from "./start-gate.ts";

/** One download running in this process. */
export interface Job {
  /** Why the manager stopped it travels with the stop (Controller.stop); lifecycle.ts maps the outcome. */
  readonly controller: Controller<StopReason>;
  /** The download's own speed limit (rate 0 = none), changed live by Update. */
  readonly bucket: TokenBucket;
  /** The row as last stored (kept for progress messages). */
  record: DownloadRecord;
  readonly connections: number;
  /** Set once every byte is in: the job holds no slot and no connection from then on. */
  verifying: boolean;
  /** performance.now() when its claim committed (a heartbeat sent before it cannot know the lease). */
  readonly claimedAt: number;
  /** The write of the "verifying" state, which the outcome's write waits for. */
  verifyingStored: Promise<unknown>;
  /** Settles once its outcome is stored and it left the runner. */
  readonly done: Promise<void>;
}

/** What a JobRunner needs of the manager. */
export interface JobRunnerOptions extends RunRequestOptions {
  /** The world; `cwd` is replaced per download by its directory. */
  readonly ctx: Context;
  /** Absolute download directory. */
  readonly dir: string;
  /** Its real path when resolved once for the manager's life (ManagerOptions.realDir). */
  readonly realDir?: string | undefined;
  /** Whether other nodes share the store (their paths are checked against `dir`). */
  readonly shared: boolean;
  /** Speed limit all downloads share. */
  readonly globalBucket: TokenBucket;
  /** Retry retryable failures later (default true). */
  readonly retryLater?: boolean | undefined;
  readonly retryBaseMs?: number | undefined;
  /** Attempts stored so far (a failure's retry wait grows with them). */
  readonly attempts: (id: number) => Promise<number>;
  /** Stores a job's own change (only while this node holds the lease) and delivers its event. */
  readonly change: (id: number, patch: RecordPatch) => Promise<StoredEvent | undefined>;
  /** Plans again: a slot was freed, or a job started verifying. */
  readonly schedule: () => void;
  readonly log: Logger;
}

/**
 * The downloads running in this process: each claimed row runs through the same Controller as `dlm get`,
 * its path stored before the first byte, its end stored as lifecycle.ts decides. A download being started
 * (claimed, its job not yet registered) can be waited for with `settled`, so a pause or remove that arrives
 * meanwhile still reaches it.
 */
export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #jobs = new Map<number, Job>();
  /** Output paths of running jobs, so two downloads never write one sidecar. */
  readonly #outputs = new Map<string, number>();
  /** Downloads claimed whose jobs are not registered yet. */
  readonly #gate = new StartGate();

  constructor(options: JobRunnerOptions) {
    this.#options = options;
  }

  /** The job of `id`, if it runs here now. */
  get(id: number): Job | undefined {
    return this.#jobs.get(id);
  }

  /** The running jobs. */
  values(): IterableIterator<Job> {
    return this.#jobs.values();
  }

  /** True when `id` runs here, or is being started here. */
  has(id: number): boolean {
    return this.#jobs.has(id) || this.#gate.has(id);
  }

  /** The job of `id` once a start in flight has settled (undefined: it does not run here). */
  async settled(id: number): Promise<Job | undefined> {
    await this.#gate.settled(id);
    return this.#jobs.get(id);
  }

  /** Runs `start` (the claim of `ids`, then their starts) with `settled` waiting for it on those ids. */
  starting(ids: readonly number[], start: () => Promise<void>): Promise<void> {
    return this.#gate.around(ids, start);
  }

  /** Runs a claimed download (its row already says running, leased to this node). */
  async start(record: DownloadRecord, connections: number): Promise<void> {
    const { ctx, log, dir, shared, realDir } = this.#options;
    const place = await runPlace(dir, record, shared, log, realDir);
    if ("patch" in place) {
      await this.#options.change(record.id, place.patch);
      return;
    }
    const { cwd, known } = place;
    const id = record.id;
    // The path is stored before the first byte is fetched, so a restart finds the sidecar.
    let prepared: Promise<unknown> = Promise.resolve();
    // Both limits are charged in the workers' read loop (engine/download.ts); Update changes `bucket`.
    const bucket = new TokenBucket(record.speedLimit, ctx.monotonic());
    const request = runRequest(record, connections, known, this.#options);
    const controller = new Controller<StopReason>({ ...ctx, cwd }, request, log.with({ download: id }), {
      sharedLimits: [bucket, this.#options.globalBucket],
      onPrepared: (p) => {
        const owner = this.#outputs.get(p.output);
        if (owner !== undefined && owner !== id) {
          // Same name as a running download (e.g. one URL added twice): stop before a byte is written.
          const error = new OutputExistsError(`${p.output} is being written by download ${owner}`, {
            file: p.output,
          });
          controller.stop({ kind: "conflict", error }, "manager");
          return;
        }
        this.#outputs.set(p.output, id);
        prepared = this.#options.change(id, { path: p.output, totalBytes: p.remote.totalBytes });
      },
      onVerifying: () => {
        job.verifying = true;
        job.verifyingStored = prepared.then(() => this.#options.change(id, { state: "verifying" }));
        this.#options.schedule();
      },
    });
    let finish: () => void = () => undefined;
    const job: Job = {
      controller,
      bucket,
      record,
      connections,
      verifying: false,
      claimedAt: performance.now(),
      verifyingStored: Promise.resolve(),
      done: new Promise<void>((resolve) => {
        finish = resolve;
      }),
    };
    this.#jobs.set(id, job);
    // The claim stored "running"; the outcome is stored after the path (onPrepared) and "verifying" are.
    void controller
      .outcome()
      .then(async (outcome) => {
        await prepared;
        await job.verifyingStored;
        await this.#ended(id, job, outcome);
      })
      .catch((error: unknown) => log.error("download {id}: bookkeeping failed: {error}", { id, error }))
      .finally(() => {
        this.#jobs.delete(id);
        for (const [path, owner] of this.#outputs) if (owner === id) this.#outputs.delete(path);
        finish();
        this.#options.schedule();
      });
  }

  /** Stores how a job ended (lifecycle.ts decides the row). */
  async #ended(id: number, job: Job, outcome: RunOutcome<StopReason>): Promise<void> {
    const patch = endPatch({
      outcome,
      bytes: job.controller.snapshot().bytesDownloaded,
      attempts: outcome.kind === "failed" ? await this.#options.attempts(id) : 0,
      retryLater: this.#options.retryLater !== false,
      retryBaseMs: this.#options.retryBaseMs,
      now: this.#options.ctx.now(),
    });
    if (outcome.kind === "failed") {
      this.#options.log.info("download {id} stopped: {message}", {
        id,
        message: patch?.failure?.message,
        state: patch?.state,
      });
    }
    if (patch !== undefined) await this.#options.change(id, patch);
  }

  /** The running jobs as the lease keeper sees them. */
  leased(): Map<number, LeasedJob> {
    const jobs = new Map<number, LeasedJob>();
    for (const [id, job] of this.#jobs) {
      jobs.set(id, {
        claimedAt: job.claimedAt,
        bytes: () => job.controller.snapshot().bytesDownloaded,
        lose: (why) => {
          // Stopped at once without writing its row (it may be another node's now).
          if (job.controller.stopReason?.kind === "lost") return;
          this.#options.log.warn("download {id}: stopping, {why}", { id, why });
          job.controller.stop({ kind: "lost", why }, "manager", { replace: true });
        },
        pause: () => job.controller.stop({ kind: "pause" }, "manager"),
      });
    }
    return jobs;
  }

  /** Takes a stored event of a running job: its row, and its speed limit if changed (maybe on another node). */
  observe(event: StoredEvent): void {
    const job = this.#jobs.get(event.downloadId);
    if (job === undefined) return;
    job.record = event.record;
    if (job.bucket.rate !== event.record.speedLimit) {
      job.bucket.setRate(event.record.speedLimit, this.#options.ctx.monotonic());
    }
  }

  /** The record as clients see it, with live progress while its job runs here. */
  view(record: DownloadRecord): DownloadView {
    return viewOf(record, this.#jobs.get(record.id)?.controller.snapshot());
  }
}
