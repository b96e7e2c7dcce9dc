import type { Logger } from "@logtape/logtape";
import type { StoredEvent } from "./download-record.ts";
import type { NodeClaim } from "./node-claim.ts";
import type { Heartbeat, Store } from "./store.ts";

/** What the lease keeper needs of one job this process runs. */
export interface LeasedJob {
  /** performance.now() when its claim committed (a heartbeat sent before it cannot know the lease). */
  readonly claimedAt: number;
  /** Bytes it has now (stored with the renewal, so every node lists them). */
  bytes(): number;
  /** Stops it at once without writing its row: the row may be another node's now. */
  lose(why: string): void;
  /** Another node asked to pause it. */
  pause(): void;
}

/** How a LeaseKeeper works. */
export interface LeaseKeeperOptions {
  readonly store: Store;
  /** This process's claim of its node name. */
  readonly claim: NodeClaim;
  /** Lease length, ms. */
  readonly leaseMs: number;
  /** Wall clock, ms. */
  readonly now: () => number;
  /** The jobs running now, by download id. */
  readonly jobs: () => ReadonlyMap<number, LeasedJob>;
  /** Rows of dead nodes put back in the queue (their events, to deliver). */
  readonly onReclaimed: (events: readonly StoredEvent[]) => void;
  readonly log: Logger;
}

/**
 * A node's leases, one heartbeat at a time: renews this process's node claim and the leases of its jobs
 * (with their bytes), stops at once a job whose lease another node holds or that another node asked to
 * pause, and puts downloads of nodes that stopped heartbeating back in the queue. When renewing fails for
 * most of a lease (a stalled process or store), every job stops: another node may take them over once
 * their leases expire.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  /** performance.now() when the last heartbeat that succeeded was sent. */
  #beatOk = performance.now();

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
  }

  /** One heartbeat; rejects when the store could not be reached (the next one tries again). */
  async beat(): Promise<void> {
    const { store, claim, leaseMs, now } = this.#options;
    const sent = performance.now();
    if (sent - this.#beatOk > leaseMs * 0.8) this.#loseAll("its lease could not be renewed in time");
    const progress = new Map<number, number>();
    for (const [id, job] of this.#options.jobs()) progress.set(id, job.bytes());
    let beat: Heartbeat;
    try {
      if (!(await store.renewNode(claim, leaseMs, now()))) {
        // Another process took the name after this one's claim ran out: nothing here is ours any more.
        this.#loseAll(`node ${claim.node} was taken by another process`);
        throw new Error(`node ${claim.node} is held by another process now`);
      }
      beat = await store.heartbeat(claim.node, progress, leaseMs, now());
    } catch (error) {
      if (performance.now() - this.#beatOk > leaseMs * 0.8) this.#loseAll("the store cannot be reached");
      throw error;
    }
    this.#beatOk = sent;
    for (const [id, job] of this.#options.jobs()) {
      if (job.claimedAt > sent) continue;
      if (!beat.owned.has(id)) job.lose("its lease was taken over");
      else if (beat.pauseRequested.has(id)) job.pause();
    }
    const reclaimed = await store.reclaimExpired(now());
    for (const event of reclaimed) {
      this.#options.log.warn("download {id}: {why}; {state} again", {
        id: event.downloadId,
        why: event.record.failure?.message,
        state: event.record.state,
      });
    }
    if (reclaimed.length > 0) this.#options.onReclaimed(reclaimed);
  }

  #loseAll(why: string): void {
    for (const job of this.#options.jobs().values()) job.lose(why);
  }
}
