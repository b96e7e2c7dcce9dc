import type { DownloadRecord, NewDownload, QueueState, RecordPatch, StoredEvent } from "./download-record.ts";

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

/**
 * The manager's persistent queue. One interface so the SQLite store (one machine) can be joined by a
 * PostgreSQL one (several machines) later. Every change writes its row and its event in one transaction,
 * so the event sequence is exactly the history of the rows.
 */
export interface Store {
  /** Adds a download, or returns the one with the same `requestId`. */
  add(input: NewDownload, now: number): Promise<AddOutcome>;
  get(id: number): Promise<DownloadRecord | undefined>;
  /** Downloads in queue order: priority (higher first), position, id. */
  list(filter?: RecordFilter): Promise<DownloadRecord[]>;
  /** Applies `patch` and stores a "changed" event; undefined when the id is unknown. */
  update(id: number, patch: RecordPatch, now: number): Promise<StoredEvent | undefined>;
  /** Deletes the row and stores a "removed" event; undefined when the id is unknown. */
  remove(id: number, now: number): Promise<StoredEvent | undefined>;
  /** Stored events with seq > `seq`, oldest first, at most `limit`. */
  eventsAfter(seq: number, limit: number): Promise<StoredEvent[]>;
  /** The last event's seq (0 when none). */
  lastSeq(): Promise<number>;
  /** The oldest stored event's seq (lastSeq() + 1 when none are kept). */
  firstSeq(): Promise<number>;
  /** Deletes all but the newest `keep` events (sequence numbers are never reused). */
  pruneEvents(keep: number): Promise<void>;
  /** How many downloads are in each state (states with none are absent). */
  countByState(): Promise<Map<QueueState, number>>;
  close(): Promise<void>;
}
