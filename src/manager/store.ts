import type { DownloadRecord, NewDownload, QueueState, RecordPatch, StoredEvent } from "./download-record.ts";
import type { NodeClaim } from "./node-claim.ts";

/** Which downloads a List or a selector picks. */
export interface RecordFilter {
  /** Only these states (all when absent or empty). */
  readonly states?: readonly QueueState[] | undefined;
  /** Only downloads with at least one of these labels (all when absent or empty). */
  readonly labels?: readonly string[] | undefined;
  /** Skip this many (paging). */
  readonly offset?: number | undefined;
  /** At most this many. */
  readonly limit?: number | undefined;
}

/** What Add did. */
export interface AddOutcome {
  readonly record: DownloadRecord;
  /** False when `requestId` matched an existing download (nothing was added). */
  readonly created: boolean;
  /** The "added" event, when created. */
  readonly event: StoredEvent | undefined;
}

/** What a heartbeat found out. */
export interface Heartbeat {
  /** Ids still leased to the node (running or verifying under its name); any other job lost its lease. */
  readonly owned: ReadonlySet<number>;
  /** Ids of its downloads that another node asked to pause. */
  readonly pauseRequested: ReadonlySet<number>;
}

/**
 * The manager's persistent queue: SQLite for one machine, memory for batches, PostgreSQL for several
 * machines (nodes) sharing one queue. Every change writes its row and its event in one transaction, so the
 * event sequence is exactly the history of the rows, gap-free and in commit order.
 *
 * Leases: a node starts a download only by `claim`ing it (queued or due retrying → running, leased to the
 * node); it renews its leases with `heartbeat`; `reclaimExpired` puts downloads of a node that stopped
 * heartbeating back in the queue. A row leaving running/verifying releases its lease.
 */
export interface Store {
  /** True when other processes change the queue too (PostgreSQL): the manager then follows the event feed. */
  readonly shared: boolean;
  /** Adds a download, or returns the one with the same `requestId`. */
  add(input: NewDownload, now: number): Promise<AddOutcome>;
  get(id: number): Promise<DownloadRecord | undefined>;
  /** Downloads in queue order: priority (higher first), position, id. */
  list(filter?: RecordFilter): Promise<DownloadRecord[]>;
  /**
   * Applies `patch` and stores a "changed" event; undefined when the id is unknown, or when `owner` is
   * given and the download is not leased to that node (a node that lost a lease must not write its row).
   */
  update(id: number, patch: RecordPatch, now: number, owner?: string): Promise<StoredEvent | undefined>;
  /**
   * Moves download `id` to `position` (at most the largest position held) in one transaction, shifting the
   * rows between its old and new place by one, so no two rows ever share a position. Stores a "changed"
   * event per row whose position changed, the moved one first; none when the id is unknown (or it is
   * already there).
   */
  move(id: number, position: number, now: number): Promise<StoredEvent[]>;
  /** Deletes the row and stores a "removed" event; undefined when the id is unknown. */
  remove(id: number, now: number): Promise<StoredEvent | undefined>;
  /** Stored events with seq > `seq`, oldest first, at most `limit`. */
  eventsAfter(seq: number, limit: number): Promise<StoredEvent[]>;
  /** The last event's seq (0 when none). */
  lastSeq(): Promise<number>;
  /** The oldest stored event's seq (lastSeq() + 1 when none are kept). */
  firstSeq(): Promise<number>;
  /**
   * Deletes all but the newest `keep` events, and (with `maxBytes`) the oldest ones beyond the newest whose
   * payloads add up to `maxBytes` (sequence numbers are never reused).
   */
  pruneEvents(keep: number, maxBytes?: number): Promise<void>;
  /** How many downloads are in each state (states with none are absent). */
  countByState(): Promise<Map<QueueState, number>>;
  /**
   * Claims those of `ids` that can start (queued, or retrying and due at `now`) for `node`: running, leased
   * for `leaseMs`. Rows another node is claiming at the same moment are skipped, not waited for. Returns
   * the "changed" events of the rows claimed.
   */
  claim(ids: readonly number[], node: string, leaseMs: number, now: number): Promise<StoredEvent[]>;
  /**
   * Renews for `leaseMs` the leases `node` holds on the downloads it runs (`progress`: id → bytes, stored
   * without an event: it is progress) and says which of them it still holds and which were asked to
   * pause. A lease of the node on a download it no longer runs is not renewed: it expires and any node
   * (this one too) can take the download again.
   */
  heartbeat(
    node: string,
    progress: ReadonlyMap<number, number>,
    leaseMs: number,
    now: number,
  ): Promise<Heartbeat>;
  /**
   * Puts running or verifying downloads whose lease expired back in the queue (paused instead when a
   * pause was asked of their node), with a failure of kind "lease_expired" naming the node; returns
   * their events.
   */
  reclaimExpired(now: number): Promise<StoredEvent[]>;
  /**
   * Takes the node name of `claim` for this process, for `leaseMs`: refused (the holder returned) while
   * another process's claim of the name has not expired, unless `gone(holder)` says that process is dead.
   * Undefined when taken. A second process under a running node's name must not take its downloads.
   */
  claimNode(
    claim: NodeClaim,
    leaseMs: number,
    now: number,
    gone: (holder: NodeClaim) => boolean,
  ): Promise<NodeClaim | undefined>;
  /** Renews the claim for `leaseMs`; false when the name is no longer this claim's (another took it). */
  renewNode(claim: NodeClaim, leaseMs: number, now: number): Promise<boolean>;
  /** Gives the name back (a clean stop): the next process under it need not wait. */
  releaseNode(claim: NodeClaim): Promise<void>;
  /** Asks the node that runs download `id` to pause it; false when it is not running or verifying. */
  requestPause(id: number): Promise<boolean>;
  /**
   * Calls `wake` soon after another process stores an event or asks for a pause (PostgreSQL LISTEN); the
   * returned function stops it. Stores that only this process writes never call it.
   */
  onChange(wake: (what: "events" | "requests") => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
