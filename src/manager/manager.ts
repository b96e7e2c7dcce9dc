// Over 300 lines on purpose: the manager is one state machine (queue rows, running jobs, their outcomes and
// the event order) whose parts only make sense together; the pure decisions live in queue-plan.ts and
// lifecycle.ts.
import { existsSync } from "node:fs";
import { realpath, rm } from "node:fs/promises";
import { join, sep } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { Context } from "../context.ts";
import { Controller, type RunOutcome } from "../control/controller.ts";
import { type DownloadRequest, REQUEST_DEFAULTS } from "../engine/download-request.ts";
import { sidecarOf } from "../engine/prepare.ts";
import { TokenBucket } from "../engine/rate-limiter.ts";
import { renewSidecarUrl } from "../engine/renew-url.ts";
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "../engine/retry-policy.ts";
import { sidecarDiffersFrom } from "../engine/same-file.ts";
import { assertFetchableUrl } from "../engine/url-scheme.ts";
import { CommandRefusedError, OutputExistsError, RemoteChangedError } from "../errors.ts";
import type { ProgressSnapshot } from "../progress/snapshot.ts";
import { checksumOptionOf } from "./checksum-option.ts";
import {
  ACTIVE_STATES,
  type DownloadRecord,
  type NewDownload,
  type QueueState,
  type RecordPatch,
  type StoredEvent,
} from "./download-record.ts";
import { EventSequencer } from "./event-sequencer.ts";
import { failureInfo } from "./failure-info.ts";
import { checkBounded, checkInput } from "./input-bounds.ts";
import { type LeasedJob, LeaseKeeper } from "./lease-keeper.ts";
import { endPatch, type StopReason } from "./lifecycle.ts";
import type { DownloadView, ManagerListener, QueueStats } from "./manager-events.ts";
import { claimForThisProcess, claimGone, type NodeClaim } from "./node-claim.ts";
import { checkPlace, deletableInside, placeInside } from "./output-place.ts";
import { planQueue } from "./queue-plan.ts";
import { Rerun } from "./rerun.ts";
import { headersAfterUpdate, hideSecrets, sameOrigin, secretNames } from "./secret-headers.ts";
import type { RecordFilter, Store } from "./store.ts";

/** How a manager runs. */
export interface ManagerOptions {
  readonly store: Store;
  /** The world (fetch, clocks, env); `cwd` is replaced per download by its directory. */
  readonly ctx: Context;
  /** Absolute download directory; nothing is written outside it. */
  readonly dir: string;
  readonly maxActive: number;
  /** Connections all running downloads hold together (default maxActive × defaultConnections). */
  readonly connectionBudget?: number;
  /** Connections of a download that asks for none (default REQUEST_DEFAULTS.connections). */
  readonly defaultConnections?: number;
  /** First retry wait after a retryable failure, ms (default RETRY_BASE_MS). */
  readonly retryBaseMs?: number;
  /** Global speed limit, bytes per second shared by all downloads (0 or absent: none). */
  readonly globalLimit?: number;
  /** Retry retryable failures later (default true); false fails them once the engine's retries are spent. */
  readonly retryLater?: boolean;
  /** Stored events kept for WatchAll replays, at start and while running (default KEEP_EVENTS). */
  readonly keepEvents?: number;
  /** Bytes of stored event payloads kept, at start and while running (default KEEP_EVENT_BYTES). */
  readonly keepEventBytes?: number;
  /** Called once a download ends, finished or failed (the `--on-complete` hook); must not throw. */
  readonly onEnded?: (record: DownloadRecord) => void;
  /** The engine's own retries within one run (default DEFAULT_RETRY_OPTIONS, as `dlm get`). */
  readonly engineRetry?: RetryOptions;
  /** `dlm serve --refresh-cmd`: the owner's command for expired links (never an API client's: it runs a program). */
  readonly refreshCommand?: readonly string[] | undefined;
  /** This process's name among the nodes sharing the store (default "local"). */
  readonly node?: string;
  /**
   * How long a claimed download stays leased without a heartbeat, ms (default LEASE_MS). Another node
   * takes it over after that; this node stops it before that if it cannot renew the lease.
   */
  readonly leaseMs?: number;
  readonly log: Logger;
}

/** Fields Update may change. */
export type UpdatableField = "speedLimit" | "connections" | "priority" | "position" | "url" | "headers";

interface Job {
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
  readonly done: Promise<void>;
}

/**
 * Stored events kept at start: a watcher may reconnect this far back. Only state changes are stored (a few
 * per download), so this covers tens of thousands of downloads.
 */
export const KEEP_EVENTS = 100_000;

/** Bytes of stored event payloads kept (each event holds a record without secrets, a few hundred bytes). */
export const KEEP_EVENT_BYTES = 64 * 1024 * 1024;

/** How often progress and stats go to listeners, ms (at most 4 a second, as WatchAll promises). */
const TICK_MS = 250;

/** Default lease of a claimed download without a heartbeat, ms. */
export const LEASE_MS = 15_000;

/**
 * Heartbeat period, ms: leases are renewed, expired ones reclaimed and (on a shared store) the event feed
 * read this often, so a pause asked on another node is acted on within a second even if its
 * notification is lost.
 */
const HEARTBEAT_MS = 1_000;

/** How long Pause and Remove wait for another node to stop a download it runs, ms. */
const REMOTE_STOP_WAIT_MS = 10_000;

/**
 * The queue of many downloads: it keeps rows and events in the Store, runs at most `maxActive` downloads at
 * once through the same Controller as `dlm get` (so each one's bytes and byte-level state live in its
 * sidecar), retries retryable failures later, and tells listeners everything in seq order.
 */
export class Manager {
  readonly #options: ManagerOptions;
  readonly #store: Store;
  readonly #jobs = new Map<number, Job>();
  readonly #globalBucket: TokenBucket;
  /** Output paths of running jobs, so two downloads never write one sidecar. */
  readonly #outputs = new Map<string, number>();
  readonly #listeners = new Set<ManagerListener>();
  /** Stored events not yet delivered because an earlier seq is still in flight. */
  /** Stored events to listeners in seq order (see event-sequencer.ts). */
  readonly #events: EventSequencer;
  readonly #planner = new Rerun(
    () => this.#plan(),
    (error) => this.#options.log.error("queue planning failed: {error}", { error }),
    () => !this.#stopped,
  );
  readonly #beater = new Rerun(
    () => this.#leases.beat(),
    (error) => this.#options.log.warn("heartbeat failed: {error}", { error }),
    () => !this.#stopped,
  );
  readonly #puller = new Rerun(
    () => this.#readFeed(),
    (error) => this.#options.log.warn("reading the event feed failed: {error}", { error }),
    () => !this.#stopped,
  );
  readonly #pruner = new Rerun(
    () => this.#store.pruneEvents(this.#keepEvents, this.#keepEventBytes),
    (error) => this.#options.log.warn("pruning events failed: {error}", { error }),
  );
  /** Downloads that must not start now (their URL is being replaced). */
  readonly #held = new Set<number>();
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #heart: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #released = false;
  readonly #node: string;
  /** This process's hold on its node name (a token of its own): a second process cannot share it. */
  readonly #claim: NodeClaim;
  readonly #leaseMs: number;
  /** Heartbeats: this process's node claim and its jobs' leases (see lease-keeper.ts). */
  readonly #leases: LeaseKeeper;
  #unlisten: (() => Promise<void>) | undefined;
  /** Events and payload bytes delivered since the last prune: the events stay bounded while running. */
  #sincePrune = { events: 0, bytes: 0 };

  private constructor(options: ManagerOptions, lastSeq: number, claim: NodeClaim) {
    this.#claim = claim;
    this.#options = options;
    this.#store = options.store;
    this.#node = options.node ?? "local";
    this.#leaseMs = options.leaseMs ?? LEASE_MS;
    this.#events = new EventSequencer(lastSeq, (event) => this.#publish(event));
    this.#leases = new LeaseKeeper({
      store: this.#store,
      claim,
      leaseMs: this.#leaseMs,
      now: () => options.ctx.now(),
      jobs: () => this.#leasedJobs(),
      onReclaimed: (events) => {
        for (const event of events) this.#deliver(event);
        this.#schedule();
      },
      log: options.log,
    });
    this.#globalBucket = new TokenBucket(options.globalLimit ?? 0, options.ctx.monotonic());
  }

  /**
   * Opens the queue after any kind of stop, kill -9 included: a row left running or verifying by this
   * node (any row, on a store no one else shares) had a job in a process that is gone, so it is queued
   * again (its sidecar says which bytes are done); one whose file is already in place with no sidecar left
   * had finished, and is recorded so. Rows of other live nodes are theirs; those of dead nodes come back
   * when their leases expire.
   */
  static async start(options: ManagerOptions): Promise<Manager> {
    const claim = claimForThisProcess(options.node ?? "local");
    const leaseMs = options.leaseMs ?? LEASE_MS;
    const holder = await options.store.claimNode(claim, leaseMs, options.ctx.now(), claimGone);
    if (holder !== undefined) {
      throw new CommandRefusedError(
        `node ${claim.node} is already running (pid ${holder.pid} on ${holder.host}); stop it, or start this one with another --node`,
        { input: claim.node, hint: "each dlm serve sharing a queue needs its own --node" },
      );
    }
    await options.store.pruneEvents(
      options.keepEvents ?? KEEP_EVENTS,
      options.keepEventBytes ?? KEEP_EVENT_BYTES,
    );
    const manager = new Manager(options, await options.store.lastSeq(), claim);
    const now = options.ctx.now();
    for (const record of await options.store.list({ states: ["running", "verifying"] })) {
      if (options.store.shared && record.node !== undefined && record.node !== manager.#node) continue;
      const placed =
        record.path !== undefined && existsSync(record.path) && !existsSync(sidecarOf(record.path));
      // On a shared store only while still ours: another node may have reclaimed it meanwhile.
      const patch = placed ? { state: "finished" as const } : { state: "queued" as const };
      await manager.#change(record.id, patch, now, options.store.shared);
    }
    if (options.store.shared) {
      manager.#unlisten = await options.store.onChange((what) =>
        what === "events" ? manager.#pull() : manager.#beat(),
      );
    }
    manager.#ticker = setInterval(() => manager.#tick(), TICK_MS);
    manager.#heart = setInterval(() => {
      manager.#beat();
      if (options.store.shared) manager.#pull();
    }, HEARTBEAT_MS);
    manager.#schedule();
    return manager;
  }

  /** This process's node name. */
  get node(): string {
    return this.#node;
  }

  /** Adds a listener; returns its removal. */
  subscribe(listener: ManagerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The store, for readers (List, event replay). */
  get store(): Store {
    return this.#store;
  }

  /** Queues a download (paused when asked); an output leaving the download directory is a UsageError. */
  async add(input: NewDownload): Promise<{ record: DownloadView; created: boolean }> {
    assertFetchableUrl(input.url, "url");
    checkInput(input);
    checksumOptionOf(input.checksum);
    for (const mirror of input.mirrors) assertFetchableUrl(mirror, "mirrors");
    // Checked now so the client hears of it; checked again at each start (a link may appear later).
    await checkPlace(this.#options.dir, input.directory, input.output);
    const outcome = await this.#store.add(input, this.#options.ctx.now());
    if (outcome.event !== undefined) this.#deliver(outcome.event);
    this.#schedule();
    return { record: this.#view(outcome.record), created: outcome.created };
  }

  /** One download with live progress; undefined when unknown. */
  async get(id: number): Promise<DownloadView | undefined> {
    const record = await this.#store.get(id);
    return record === undefined ? undefined : this.#view(record);
  }

  /**
   * The live progress of a running download (its segments and connections, as `dlm get` publishes them);
   * undefined when it does not run in this process.
   */
  progress(id: number): ProgressSnapshot | undefined {
    return this.#jobs.get(id)?.controller.snapshot();
  }

  /** Downloads in queue order with live progress. */
  async list(filter: RecordFilter = {}): Promise<DownloadView[]> {
    return (await this.#store.list(filter)).map((record) => this.#view(record));
  }

  /**
   * Changes settings. A speed limit applies at once; a running download takes connections and headers at
   * its next start. A new url stops a running download and queues it again, its sidecar pointed at the new
   * URL (see renewSidecarUrl).
   */
  async update(
    id: number,
    patch: Pick<RecordPatch, UpdatableField>,
    options: { readonly restart?: boolean } = {},
  ): Promise<DownloadView | undefined> {
    if (patch.url !== undefined) assertFetchableUrl(patch.url, "url");
    checkInput(patch);
    const { position, ...rest } = patch;
    // A position is a move: the others shift, so no two downloads share one.
    if (position !== undefined && (await this.#store.get(id)) !== undefined) await this.move(id, position);
    if (position !== undefined && Object.keys(rest).length === 0) return this.get(id);
    const before = await this.#store.get(id);
    if (before === undefined) return undefined;
    const renewing = patch.url !== undefined && patch.url !== before.url;
    // A new URL must serve the bytes already fetched (the refresh's same-file check), unless told to restart.
    const restart = renewing && (await this.#differsFromSidecar(before, patch.url ?? "", options.restart));
    // Held out of planning until the new URL is stored: it must not start again with the old one.
    if (renewing) this.#held.add(id);
    try {
      return await this.#applyUpdate(id, rest, before, renewing, restart);
    } finally {
      this.#held.delete(id);
      this.#schedule();
    }
  }

  async #applyUpdate(
    id: number,
    patch: Pick<RecordPatch, UpdatableField>,
    before: DownloadRecord,
    renewing: boolean,
    restart = false,
  ): Promise<DownloadView | undefined> {
    if (renewing) await this.#stopForNewUrl(id);
    // Another node running it pauses it first (through the store); it goes back to the queue below.
    const stoppedElsewhere = renewing && this.#runsElsewhere(before);
    if (stoppedElsewhere) await this.#stopElsewhere(id);
    const record = (await this.#store.get(id)) ?? before;
    // Credentials were given for the old origin: they follow the URL only if the same Update gives them.
    const headers = headersAfterUpdate(
      record.headers,
      patch.headers,
      patch.url === undefined || sameOrigin(record.url, patch.url),
    );
    const change = patch.headers === undefined && headers === record.headers ? patch : { ...patch, headers };
    if (renewing && record.path !== undefined && patch.url !== undefined) {
      // The bytes already fetched stay: the next run continues them from the new URL if it serves the same
      // file (checked against the sidecar's size and validator), else it fails as "remote changed".
      if (restart) await rm(sidecarOf(record.path), { recursive: true, force: true });
      else await renewSidecarUrl(sidecarOf(record.path), patch.url);
    }
    // A fresh URL for a download waiting to retry (an expired link) is worth trying now.
    const retryNow =
      renewing && (record.state === "retrying" || (stoppedElsewhere && record.state === "paused"));
    const event = await this.#change(
      id,
      retryNow ? { ...change, state: "queued", nextTryAt: undefined, attempts: 0 } : change,
      this.#options.ctx.now(),
    );
    const job = this.#jobs.get(id);
    if (job !== undefined && patch.speedLimit !== undefined) {
      job.bucket.setRate(patch.speedLimit, this.#options.ctx.monotonic());
    }
    return event === undefined ? undefined : this.#view(event.record);
  }

  /**
   * Whether the bytes of `record` must be discarded for `url`: false when `url` serves the same file (or
   * nothing is stored); true when it does not and `restart` was asked; a RemoteChangedError otherwise.
   */
  async #differsFromSidecar(record: DownloadRecord, url: string, restart = false): Promise<boolean> {
    if (record.path === undefined) return false;
    const why = await sidecarDiffersFrom(this.#options.ctx, sidecarOf(record.path), url, {
      headers: record.headers,
      credentialOrigin: new URL(record.url).origin,
      headTimeoutMs: REQUEST_DEFAULTS.stallTimeoutMs,
      signal: AbortSignal.timeout(REQUEST_DEFAULTS.stallTimeoutMs),
    });
    if (why === undefined) return false;
    if (restart) return true;
    throw new RemoteChangedError(
      `url: ${url} serves another file than download ${record.id} holds (${why}); update with restart to start over`,
      { url, file: record.path, hint: "dlm update ID --url URL --restart" },
    );
  }

  /**
   * Moves one download to `position` among the queue (at most the last position held) in one store
   * transaction: the downloads between its old and new place shift by one, so no two share a position.
   * Undefined when the id is unknown.
   */
  async move(id: number, position: number): Promise<DownloadView | undefined> {
    checkBounded("position", position);
    for (const event of await this.#store.move(id, position, this.#options.ctx.now())) this.#deliver(event);
    this.#schedule();
    return this.get(id);
  }

  /** Stops a running download whose URL is being replaced; it goes back to the queue, its bytes kept. */
  async #stopForNewUrl(id: number): Promise<void> {
    const job = this.#jobs.get(id);
    if (job === undefined) return;
    job.controller.stop({ kind: "requeue" }, "manager");
    await job.done;
  }

  /** Pauses downloads: running ones stop (state saved), waiting ones stay put. Returns them after. */
  async pause(ids: readonly number[]): Promise<DownloadView[]> {
    const now = this.#options.ctx.now();
    for (const id of ids) {
      const job = this.#jobs.get(id);
      if (job !== undefined) {
        // A download being verified cannot pause: it ends as it ends.
        job.controller.stop({ kind: "pause" }, "manager");
        await job.done;
        continue;
      }
      const record = await this.#store.get(id);
      if (record?.state === "queued" || record?.state === "retrying") {
        await this.#change(id, { state: "paused", nextTryAt: undefined }, now);
      } else if (record !== undefined && this.#runsElsewhere(record)) {
        await this.#stopElsewhere(id);
      }
    }
    return this.#views(ids);
  }

  /** True when another node holds the download's lease. */
  #runsElsewhere(record: DownloadRecord): boolean {
    return ACTIVE_STATES.has(record.state) && record.node !== undefined && record.node !== this.#node;
  }

  /**
   * Asks the node that runs `id` to pause it (through the store) and waits, at most REMOTE_STOP_WAIT_MS,
   * for the stored event that says it stopped.
   */
  async #stopElsewhere(id: number): Promise<void> {
    let settle: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const unsubscribe = this.subscribe((message) => {
      if (message.kind !== "stored" || message.event.downloadId !== id) return;
      if (message.event.kind === "removed" || !ACTIVE_STATES.has(message.event.record.state)) settle();
    });
    const timer = setTimeout(settle, REMOTE_STOP_WAIT_MS);
    try {
      if (!(await this.#store.requestPause(id))) return;
      const now = await this.#store.get(id);
      if (now === undefined || !this.#runsElsewhere(now)) return;
      await stopped;
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  /** Puts paused, failed and retrying downloads back in the queue (attempts reset). */
  async resume(ids: readonly number[]): Promise<DownloadView[]> {
    const now = this.#options.ctx.now();
    for (const id of ids) {
      const record = await this.#store.get(id);
      if (record?.state === "paused" || record?.state === "failed" || record?.state === "retrying") {
        await this.#change(
          id,
          { state: "queued", failure: undefined, nextTryAt: undefined, attempts: 0 },
          now,
        );
      }
    }
    this.#schedule();
    return this.#views(ids);
  }

  /**
   * Forgets downloads. A running one stops first. With `deleteFiles` the finished file or the unfinished
   * sidecar is deleted too; without, files stay (an unfinished one can still be continued by `dlm resume`).
   */
  async remove(ids: readonly number[], deleteFiles: boolean): Promise<number[]> {
    const removed: number[] = [];
    for (const id of ids) {
      const job = this.#jobs.get(id);
      if (job !== undefined) {
        job.controller.stop({ kind: "remove" }, "manager", { cancel: deleteFiles, replace: true });
        await job.done;
      }
      let record = await this.#store.get(id);
      if (record !== undefined && this.#runsElsewhere(record)) {
        // Its node pauses it first (sidecar saved), so the files below are not being written.
        await this.#stopElsewhere(id);
        record = await this.#store.get(id);
      }
      if (record === undefined) continue;
      // The stored path is checked again: nothing outside the download directory is ever deleted.
      if (
        deleteFiles &&
        record.path !== undefined &&
        (await deletableInside(this.#options.dir, record.path))
      ) {
        await rm(sidecarOf(record.path), { recursive: true, force: true });
        if (record.state === "finished") await rm(record.path, { force: true });
      }
      const event = await this.#store.remove(id, this.#options.ctx.now());
      if (event !== undefined) {
        this.#deliver(event);
        removed.push(id);
      }
    }
    this.#schedule();
    return removed;
  }

  /** Changes the speed limit all downloads share, at once (0 lifts it). */
  setGlobalLimit(bytesPerSecond: number): void {
    checkBounded("speed_limit", bytesPerSecond);
    this.#globalBucket.setRate(bytesPerSecond, this.#options.ctx.monotonic());
  }

  /** Counts per state, the summed rate, and the slots in use. */
  async stats(): Promise<QueueStats> {
    return this.#statsWith(await this.#store.countByState());
  }

  /** Ids picked by a selector: the ids given, or every download matching the filter. */
  async select(ids: readonly number[], all: boolean, filter: RecordFilter): Promise<number[]> {
    if (!all) return [...ids];
    return (await this.#store.list(filter)).map((record) => record.id);
  }

  /**
   * Stops: running downloads pause (their sidecars hold every fsynced byte) and go back to queued, so the
   * next `dlm serve` continues them. Idempotent.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#ticker);
    clearInterval(this.#heart);
    clearTimeout(this.#wakeTimer);
    await this.#unlisten?.();
    this.#unlisten = undefined;
    for (const job of this.#jobs.values()) {
      job.controller.stop({ kind: "shutdown" }, "shutdown");
    }
    await Promise.all([...this.#jobs.values()].map((job) => job.done));
    await this.#planner.idle();
    await this.#beater.idle();
    await this.#puller.idle();
    await this.#pruner.idle();
    if (!this.#released) {
      this.#released = true;
      await this.#store.releaseNode(this.#claim);
    }
  }

  /** Plans and starts jobs; a call while planning runs plans once more after it. */
  #schedule(): void {
    this.#planner.request();
  }

  async #plan(): Promise<void> {
    const waiting = await this.#store.list({ states: ["queued", "retrying"] });
    const now = this.#options.ctx.now();
    // Real paths, as placeInside and the engine's outputs use.
    const root = await realpath(this.#options.dir);
    const defaultConnections = this.#options.defaultConnections ?? REQUEST_DEFAULTS.connections;
    const busy = new Set([...this.#jobs.values()].map((job) => outputKey(root, job.record)));
    if (this.#store.shared) {
      // Outputs other nodes are writing are busy too (the download directory is shared).
      for (const record of await this.#store.list({ states: ["running", "verifying"] })) {
        busy.add(outputKey(root, record));
      }
    }
    const plan = planQueue({
      // A download that would write where a running one writes waits for it (then fails, the file being there).
      waiting: waiting.filter(
        (record) =>
          !this.#jobs.has(record.id) && !this.#held.has(record.id) && !busy.has(outputKey(root, record)),
      ),
      // A job verifying its file uses no connection: its slot goes to the next download at once, so a batch
      // of small files keeps its connections busy while each file's hash and fsync finish.
      running: [...this.#jobs.values()].filter((job) => !job.verifying).map((job) => job.connections),
      maxActive: this.#options.maxActive,
      connectionBudget: this.#options.connectionBudget ?? this.#options.maxActive * defaultConnections,
      defaultConnections,
      now,
    });
    const starts: { record: DownloadRecord; connections: number }[] = [];
    for (const { id, connections } of plan.start) {
      const record = waiting.find((r) => r.id === id);
      // Two waiting downloads with one output: the first starts, the other waits for it.
      if (record === undefined || busy.has(outputKey(root, record))) continue;
      busy.add(outputKey(root, record));
      starts.push({ record, connections });
    }
    if (starts.length > 0 && !this.#stopped) {
      // Claiming is what makes a download this node's: another node may have taken some meanwhile.
      const claimed = await this.#store.claim(
        starts.map((start) => start.record.id),
        this.#node,
        this.#leaseMs,
        now,
      );
      for (const event of claimed) this.#deliver(event);
      for (const { record, connections } of starts) {
        const event = claimed.find((e) => e.downloadId === record.id);
        if (event !== undefined && !this.#stopped) await this.#startJob(event.record, connections);
      }
      // Those taken by others leave room for the next ones in the queue.
      if (claimed.length < starts.length && this.#store.shared) this.#schedule();
    }
    clearTimeout(this.#wakeTimer);
    if (plan.wakeAt !== undefined) {
      this.#wakeTimer = setTimeout(() => this.#schedule(), Math.max(0, plan.wakeAt - now));
    }
  }

  /** Runs a claimed download (its row already says running, leased to this node). */
  async #startJob(record: DownloadRecord, connections: number): Promise<void> {
    const { ctx, log } = this.#options;
    let cwd: string;
    try {
      cwd = await placeInside(this.#options.dir, record.directory, record.output);
    } catch (error) {
      await this.#change(record.id, { state: "failed", failure: failureInfo(error) }, ctx.now(), true);
      return;
    }
    // A path another node chose (shared store) is used only if it lies in this node's download directory.
    const root = await realpath(this.#options.dir);
    const known =
      !this.#store.shared || record.path?.startsWith(root + sep) === true ? record.path : undefined;
    if (this.#store.shared && known !== undefined && existsSync(known) && !existsSync(sidecarOf(known))) {
      // Its file was placed by a node that stopped before recording it (one node checks this at start).
      await this.#change(record.id, { state: "finished" }, ctx.now(), true);
      return;
    }
    if (record.bytesDownloaded > 0 && (known === undefined || !existsSync(sidecarOf(known)))) {
      log.warn("download {id}: no sidecar of its earlier run here ({path}); starting over", {
        id: record.id,
        path: record.path,
      });
    }
    const request: DownloadRequest = {
      url: record.url,
      // A known path (chosen by an earlier run) is where the sidecar is: resume there.
      output: known ?? record.output,
      connections,
      rangeStart: undefined,
      rangeEnd: undefined,
      ...checksumOptionOf(record.checksum),
      headers: record.headers,
      mirrors: record.mirrors,
      force: false,
      restart: false,
      storage: REQUEST_DEFAULTS.storage,
      stallTimeoutMs: REQUEST_DEFAULTS.stallTimeoutMs,
      retry: this.#options.engineRetry ?? DEFAULT_RETRY_OPTIONS,
      minSplitBytes: REQUEST_DEFAULTS.minSplitBytes,
      checkpointIntervalMs: REQUEST_DEFAULTS.checkpointIntervalMs,
      refreshCommand: this.#options.refreshCommand,
    };
    const id = record.id;
    // The path is stored before the first byte is fetched, so a restart finds the sidecar.
    let prepared: Promise<unknown> = Promise.resolve();
    // Both limits are charged in the workers' read loop (engine/download.ts); Update changes `bucket`.
    const bucket = new TokenBucket(record.speedLimit, ctx.monotonic());
    const controller = new Controller<StopReason>({ ...ctx, cwd }, request, log.with({ download: id }), {
      sharedLimits: [bucket, this.#globalBucket],
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
        prepared = this.#change(id, { path: p.output, totalBytes: p.remote.totalBytes }, ctx.now(), true);
      },
      onVerifying: () => {
        job.verifying = true;
        job.verifyingStored = prepared.then(() => this.#change(id, { state: "verifying" }, ctx.now(), true));
        this.#schedule();
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
        this.#schedule();
      });
  }

  /** Stores how a job ended (lifecycle.ts decides the row). */
  async #ended(id: number, job: Job, outcome: RunOutcome<StopReason>): Promise<void> {
    const now = this.#options.ctx.now();
    const patch = endPatch({
      outcome,
      bytes: job.controller.snapshot().bytesDownloaded,
      attempts: outcome.kind === "failed" ? ((await this.#store.get(id))?.attempts ?? 0) : 0,
      retryLater: this.#options.retryLater !== false,
      retryBaseMs: this.#options.retryBaseMs,
      now,
    });
    if (outcome.kind === "failed") {
      this.#options.log.info("download {id} stopped: {message}", {
        id,
        message: patch?.failure?.message,
        state: patch?.state,
      });
    }
    if (patch !== undefined) await this.#change(id, patch, now, true);
  }

  /**
   * Stores a change and delivers its event. A job's own change (`leased`) is stored only while this node
   * holds the download's lease.
   */
  async #change(
    id: number,
    patch: RecordPatch,
    now: number,
    leased = false,
  ): Promise<StoredEvent | undefined> {
    const event = await this.#store.update(id, patch, now, leased ? this.#node : undefined);
    if (event !== undefined) this.#deliver(event);
    if (event !== undefined && (patch.state === "finished" || patch.state === "failed")) {
      this.#options.onEnded?.(event.record);
    }
    return event;
  }

  /** Delivers a stored event in seq order (see EventSequencer). */
  #deliver(event: StoredEvent): void {
    this.#events.push(event);
  }

  /** Tells the jobs and the listeners one stored event, its turn come. */
  #publish(next: StoredEvent): void {
    this.#countForPrune(next);
    const job = this.#jobs.get(next.downloadId);
    if (job !== undefined) {
      job.record = next.record;
      // An Update of the speed limit made on another node reaches the job through the feed.
      if (job.bucket.rate !== next.record.speedLimit) {
        job.bucket.setRate(next.record.speedLimit, this.#options.ctx.monotonic());
      }
    }
    const message = { kind: "stored", event: { ...next, record: this.#view(next.record) } } as const;
    for (const listener of this.#listeners) listener(message);
  }

  /**
   * Prunes the stored events once a quarter of their bounds (count or bytes) was added since the last
   * prune, so they stay within 1.25 × the bounds while the daemon runs, not only at start.
   */
  #countForPrune(event: StoredEvent): void {
    this.#sincePrune.events++;
    this.#sincePrune.bytes += JSON.stringify(event.record).length;
    if (this.#sincePrune.events * 4 < this.#keepEvents && this.#sincePrune.bytes * 4 < this.#keepEventBytes)
      return;
    this.#sincePrune = { events: 0, bytes: 0 };
    this.#pruner.request();
  }

  get #keepEvents(): number {
    return this.#options.keepEvents ?? KEEP_EVENTS;
  }

  get #keepEventBytes(): number {
    return this.#options.keepEventBytes ?? KEEP_EVENT_BYTES;
  }

  /** Runs a heartbeat now, or once more after the one in flight. */
  #beat(): void {
    this.#beater.request();
  }

  /** The running jobs as the lease keeper sees them. */
  #leasedJobs(): Map<number, LeasedJob> {
    const jobs = new Map<number, LeasedJob>();
    for (const [id, job] of this.#jobs) {
      jobs.set(id, {
        claimedAt: job.claimedAt,
        bytes: () => job.controller.snapshot().bytesDownloaded,
        lose: (why) => this.#loseLease(id, job, why),
        pause: () => job.controller.stop({ kind: "pause" }, "manager"),
      });
    }
    return jobs;
  }

  /** Stops a job at once without writing its row (it may be another node's now). */
  #loseLease(id: number, job: Job, why: string): void {
    if (job.controller.stopReason?.kind === "lost") return;
    this.#options.log.warn("download {id}: stopping, {why}", { id, why });
    job.controller.stop({ kind: "lost", why }, "manager", { replace: true });
  }

  /** Reads the events other nodes stored (shared stores), then plans: they may have queued work. */
  #pull(): void {
    this.#puller.request();
  }

  async #readFeed(): Promise<void> {
    const before = this.#events.delivered;
    for (;;) {
      const page = await this.#store.eventsAfter(this.#events.delivered, 500);
      const first = page[0];
      if (first !== undefined && first.seq > this.#events.delivered + 1) {
        // Pruned before this node read them (it was far behind): go on from what is kept.
        this.#options.log.warn("events {from}..{to} were pruned before this node read them", {
          from: this.#events.delivered + 1,
          to: first.seq - 1,
        });
        this.#events.skipTo(first.seq - 1);
      }
      for (const event of page) this.#deliver(event);
      if (page.length < 500) break;
    }
    if (this.#events.delivered !== before) this.#schedule();
  }

  /** Publishes progress every TICK_MS. */
  #tick(): void {
    const progress: DownloadView[] = [];
    for (const job of this.#jobs.values()) progress.push(this.#view(job.record));
    if (this.#listeners.size === 0) return;
    void (async () => {
      const counts = await this.#store.countByState();
      if (this.#store.shared) {
        // Downloads other nodes run, with the bytes their last heartbeat stored: one view of the fleet.
        for (const record of await this.#store.list({ states: ["running", "verifying"] })) {
          if (!this.#jobs.has(record.id)) progress.push(this.#view(record));
        }
      }
      const message = {
        kind: "tick",
        seq: this.#events.delivered,
        progress,
        stats: this.#statsWith(counts),
      } as const;
      for (const listener of this.#listeners) listener(message);
    })().catch((error: unknown) => this.#options.log.warn("progress tick failed: {error}", { error }));
  }

  #statsWith(counts: ReadonlyMap<QueueState, number>): QueueStats {
    let bytesPerSecond = 0;
    for (const job of this.#jobs.values()) bytesPerSecond += job.controller.snapshot().bytesPerSecond;
    return {
      counts,
      bytesPerSecond,
      active: [...this.#jobs.values()].filter((job) => !job.verifying).length,
      maxActive: this.#options.maxActive,
      globalLimit: this.#globalBucket.rate,
    };
  }

  async #views(ids: readonly number[]): Promise<DownloadView[]> {
    const views: DownloadView[] = [];
    for (const id of ids) {
      const view = await this.get(id);
      if (view !== undefined) views.push(view);
    }
    return views;
  }

  /** The record as clients see it (secrets hidden), with live bytes and rate while its job runs. */
  #view(record: DownloadRecord): DownloadView {
    const job = this.#jobs.get(record.id);
    const shown = {
      ...record,
      headers: hideSecrets(record.headers),
      secretHeaders: secretNames(record.headers),
    };
    if (job === undefined || record.state === "finished") return { ...shown, bytesPerSecond: 0 };
    const snapshot = job.controller.snapshot();
    return {
      ...shown,
      bytesDownloaded: snapshot.bytesDownloaded,
      totalBytes: snapshot.totalBytes ?? record.totalBytes,
      bytesPerSecond: snapshot.bytesPerSecond,
      activeConnections: snapshot.activeConnections,
    };
  }
}

/**
 * Where a download will write, as far as is known before it runs: its path once chosen, its directory and
 * name when given, else its directory and URL (the server's name for one URL is the same each time).
 */
function outputKey(root: string, record: DownloadRecord): string {
  if (record.path !== undefined) return `path\0${record.path}`;
  if (record.output !== undefined) return `path\0${join(root, record.directory, record.output)}`;
  return `url\0${join(root, record.directory)}\0${record.url}`;
}
