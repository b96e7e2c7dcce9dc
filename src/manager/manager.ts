// The manager's wiring: the API's commands, one planning loop, one heartbeat and one progress tick. Each job
// lives in its own unit: job-runner.ts (running jobs, their ends through lifecycle.ts), pick-starts.ts with
// queue-plan.ts (which waiting downloads start), lease-keeper.ts (leases), event-feed.ts (event order, the
// shared feed, pruning), *-command.ts and remote-stop.ts (commands), progress-tick.ts.
import { REQUEST_DEFAULTS } from "../engine/download-request.ts";
import { TokenBucket } from "../engine/rate-limiter.ts";
import { assertFetchableUrl } from "../engine/url-scheme.ts";
import { CommandRefusedError } from "../errors.ts";
import type { ProgressSnapshot } from "../progress/snapshot.ts";
import { checksumOptionOf } from "./checksum-option.ts";
import type { CommandContext } from "./command-context.ts";
import type { NewDownload, QueueState, RecordPatch, StoredEvent } from "./download-record.ts";
import { EventFeed } from "./event-feed.ts";
import { checkBounded, checkInput } from "./input-bounds.ts";
import { JobRunner } from "./job-runner.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import type { DownloadView, ManagerListener, QueueStats } from "./manager-events.ts";
import {
  HEARTBEAT_MS,
  KEEP_EVENT_BYTES,
  KEEP_EVENTS,
  LEASE_MS,
  type ManagerOptions,
  TICK_MS,
} from "./manager-options.ts";
import { claimForThisProcess, claimGone, type NodeClaim } from "./node-claim.ts";
import { checkPlace } from "./output-place.ts";
import { pauseDownloads } from "./pause-command.ts";
import { pickStarts } from "./pick-starts.ts";
import { progressTick, queueStats } from "./progress-tick.ts";
import { removeDownloads } from "./remove-command.ts";
import { Rerun } from "./rerun.ts";
import { resumeDownloads } from "./resume-command.ts";
import { placedWithoutSidecar } from "./run-request.ts";
import type { RecordFilter, Store } from "./store.ts";
import { type UpdatableField, updateSettings } from "./update-command.ts";

export {
  KEEP_EVENT_BYTES,
  KEEP_EVENTS,
  LEASE_MS,
  type ManagerOptions,
} from "./manager-options.ts";
export type { UpdatableField } from "./update-command.ts";

/**
 * The queue of many downloads: it keeps rows and events in the Store, runs at most `maxActive` downloads at
 * once through the same Controller as `dlm get` (so each one's bytes and byte-level state live in its
 * sidecar), retries retryable failures later, and tells listeners everything in seq order.
 */
export class Manager {
  readonly #options: ManagerOptions;
  readonly #store: Store;
  readonly #node: string;
  /** This process's hold on its node name (a token of its own): a second process cannot share it. */
  readonly #claim: NodeClaim;
  readonly #globalBucket: TokenBucket;
  readonly #jobs: JobRunner;
  /** Stored events to listeners in seq order, the shared feed and pruning (see event-feed.ts). */
  readonly #feed: EventFeed;
  /** Heartbeats: this process's node claim and its jobs' leases (see lease-keeper.ts). */
  readonly #leases: LeaseKeeper;
  /** What commands work with (see command-context.ts). */
  readonly #parts: CommandContext;
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
  /** Downloads that must not start now (their URL is being replaced). */
  readonly #held = new Set<number>();
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #heart: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #released = false;
  #unlisten: (() => Promise<void>) | undefined;

  private constructor(options: ManagerOptions, lastSeq: number, claim: NodeClaim) {
    const { store, ctx, log } = options;
    this.#claim = claim;
    this.#options = options;
    this.#store = store;
    this.#node = options.node ?? "local";
    this.#globalBucket = new TokenBucket(options.globalLimit ?? 0, ctx.monotonic());
    this.#jobs = new JobRunner({
      ...options,
      shared: store.shared,
      globalBucket: this.#globalBucket,
      attempts: async (id) => (await store.get(id))?.attempts ?? 0,
      change: (id, patch) => this.#change(id, patch, ctx.now(), true),
      schedule: () => this.#schedule(),
    });
    this.#feed = new EventFeed({
      store,
      lastSeq,
      keepEvents: options.keepEvents ?? KEEP_EVENTS,
      keepEventBytes: options.keepEventBytes ?? KEEP_EVENT_BYTES,
      publish: (event) => {
        this.#jobs.observe(event);
        return { ...event, record: this.#jobs.view(event.record) };
      },
      onRead: () => this.#schedule(),
      enabled: () => !this.#stopped,
      log,
    });
    this.#leases = new LeaseKeeper({
      store,
      claim,
      leaseMs: options.leaseMs ?? LEASE_MS,
      now: () => ctx.now(),
      jobs: () => this.#jobs.leased(),
      onReclaimed: (events) => {
        for (const event of events) this.#feed.deliver(event);
        this.#schedule();
      },
      log,
    });
    this.#parts = {
      ...options,
      node: this.#node,
      jobs: this.#jobs,
      change: (id, patch) => this.#change(id, patch, ctx.now()),
      deliver: (event) => this.#feed.deliver(event),
      schedule: () => this.#schedule(),
      view: (record) => this.#jobs.view(record),
      subscribe: (listener) => this.subscribe(listener),
    };
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
      const placed = placedWithoutSidecar(record.path);
      // On a shared store only while still ours: another node may have reclaimed it meanwhile.
      const patch = placed ? { state: "finished" as const } : { state: "queued" as const };
      await manager.#change(record.id, patch, now, options.store.shared);
    }
    if (options.store.shared) {
      manager.#unlisten = await options.store.onChange((what) =>
        what === "events" ? manager.#feed.pull() : manager.#beater.request(),
      );
    }
    manager.#ticker = setInterval(() => manager.#tick(), TICK_MS);
    manager.#heart = setInterval(() => {
      // Leases renewed, expired ones reclaimed; on a shared store the feed is read even if a notification was lost.
      manager.#beater.request();
      if (options.store.shared) manager.#feed.pull();
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
    return this.#feed.subscribe(listener);
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
    await checkPlace(this.#options.dir, input.directory, input.output, this.#options.realDir);
    const outcome = await this.#store.add(input, this.#options.ctx.now());
    if (outcome.event !== undefined) this.#feed.deliver(outcome.event);
    this.#schedule();
    return { record: this.#jobs.view(outcome.record), created: outcome.created };
  }

  /** One download with live progress; undefined when unknown. */
  async get(id: number): Promise<DownloadView | undefined> {
    const record = await this.#store.get(id);
    return record === undefined ? undefined : this.#jobs.view(record);
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
    return (await this.#store.list(filter)).map((record) => this.#jobs.view(record));
  }

  /**
   * Changes settings. A position is a move (see `move`). A speed limit applies at once; a running download
   * takes connections and headers at its next start. A new url stops a running download and queues it
   * again, its sidecar pointed at the new URL (see update-command.ts).
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
    return updateSettings(this.#parts, this.#held, id, rest, options);
  }

  /**
   * Moves one download to `position` among the queue (at most the last position held) in one store
   * transaction: the downloads between its old and new place shift by one, so no two share a position.
   * Undefined when the id is unknown.
   */
  async move(id: number, position: number): Promise<DownloadView | undefined> {
    checkBounded("position", position);
    for (const event of await this.#store.move(id, position, this.#options.ctx.now()))
      this.#feed.deliver(event);
    this.#schedule();
    return this.get(id);
  }

  /** Pauses downloads (see pause-command.ts); returns them after. */
  async pause(ids: readonly number[]): Promise<DownloadView[]> {
    await pauseDownloads(this.#parts, ids);
    return this.#views(ids);
  }

  /** Puts paused, failed and retrying downloads back in the queue (attempts reset). */
  async resume(ids: readonly number[]): Promise<DownloadView[]> {
    await resumeDownloads(this.#parts, ids);
    return this.#views(ids);
  }

  /** Forgets downloads, with `deleteFiles` their files too (see remove-command.ts); returns the ids removed. */
  remove(ids: readonly number[], deleteFiles: boolean): Promise<number[]> {
    return removeDownloads(this.#parts, ids, deleteFiles);
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
    // A start in flight registers its job first, so the loop below stops it too.
    await this.#planner.idle();
    for (const job of this.#jobs.values()) job.controller.stop({ kind: "shutdown" }, "shutdown");
    await Promise.all([...this.#jobs.values()].map((job) => job.done));
    await this.#planner.idle();
    await this.#beater.idle();
    await this.#feed.idle();
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
    const now = this.#options.ctx.now();
    const defaultConnections = this.#options.defaultConnections ?? REQUEST_DEFAULTS.connections;
    const { starts, wakeAt } = await pickStarts({
      store: this.#store,
      dir: this.#options.dir,
      realDir: this.#options.realDir,
      jobs: this.#jobs,
      held: this.#held,
      maxActive: this.#options.maxActive,
      connectionBudget: this.#options.connectionBudget ?? this.#options.maxActive * defaultConnections,
      defaultConnections,
      now,
    });
    const ids = starts.map((start) => start.record.id);
    if (starts.length > 0 && !this.#stopped) {
      await this.#jobs.starting(ids, async () => {
        // Claiming is what makes a download this node's: another node may have taken some meanwhile.
        const claimed = await this.#store.claim(ids, this.#node, this.#options.leaseMs ?? LEASE_MS, now);
        for (const event of claimed) this.#feed.deliver(event);
        for (const { record, connections } of starts) {
          const event = claimed.find((e) => e.downloadId === record.id);
          if (event !== undefined && !this.#stopped) await this.#jobs.start(event.record, connections);
        }
        // Those taken by others leave room for the next ones in the queue.
        if (claimed.length < starts.length && this.#store.shared) this.#schedule();
      });
    }
    clearTimeout(this.#wakeTimer);
    if (wakeAt !== undefined) this.#wakeTimer = setTimeout(() => this.#schedule(), Math.max(0, wakeAt - now));
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
    if (event !== undefined) this.#feed.deliver(event);
    if (event !== undefined && (patch.state === "finished" || patch.state === "failed")) {
      this.#options.onEnded?.(event.record);
    }
    return event;
  }

  /** Publishes progress every TICK_MS. */
  #tick(): void {
    if (!this.#feed.listened) return;
    progressTick(
      this.#store,
      this.#jobs,
      () => this.#feed.delivered,
      (counts) => this.#statsWith(counts),
    )
      .then((message) => this.#feed.broadcast(message))
      .catch((error: unknown) => this.#options.log.warn("progress tick failed: {error}", { error }));
  }

  #statsWith(counts: ReadonlyMap<QueueState, number>): QueueStats {
    return queueStats(this.#jobs, counts, this.#options.maxActive, this.#globalBucket.rate);
  }

  async #views(ids: readonly number[]): Promise<DownloadView[]> {
    const views: DownloadView[] = [];
    for (const id of ids) {
      const view = await this.get(id);
      if (view !== undefined) views.push(view);
    }
    return views;
  }
}
