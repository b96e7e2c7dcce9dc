import type { DownloadRecord, NewDownload, QueueState, RecordPatch, StoredEvent } from "./download-record.ts";
import type { NodeClaim } from "./node-claim.ts";
import { compareQueueOrder } from "./queue-order.ts";
import { hideSecrets } from "./secret-headers.ts";
import type { AddOutcome, Heartbeat, RecordFilter, Store } from "./store.ts";
import { freshRecord, withLeaseRule } from "./store-rows.ts";

interface Lease {
  readonly until: number;
  pauseRequested: boolean;
}

/**
 * The first `count` of `rows` in queue order, without sorting them all: the manager's planner asks for the
 * head of the queue once per file started, and a batch's queue is every file not yet started.
 */
function firstInOrder(rows: readonly DownloadRecord[], count: number): DownloadRecord[] {
  const head: DownloadRecord[] = [];
  for (const row of rows) {
    const last = head[head.length - 1];
    if (head.length === count && last !== undefined && compareQueueOrder(row, last) >= 0) continue;
    let at = head.length;
    while (at > 0 && compareQueueOrder(row, head[at - 1] as DownloadRecord) < 0) at--;
    head.splice(at, 0, row);
    if (head.length > count) head.pop();
  }
  return head;
}

/**
 * The Store in memory, for batches without a daemon (`dlm get URL URL...`): the same manager, nothing kept
 * after the process. Each download's bytes still live in its sidecar, so `dlm resume FILE` continues one.
 */
export class MemoryStore implements Store {
  readonly shared = false;
  readonly #rows = new Map<number, DownloadRecord>();
  readonly #events: StoredEvent[] = [];
  readonly #leases = new Map<number, Lease>();
  readonly #nodes = new Map<string, { readonly claim: NodeClaim; readonly until: number }>();
  #nextId = 1;
  #seq = 0;
  /** The highest position of a row (0 when none): a batch adds every file, each after the last. */
  #lastPosition = 0;

  async add(input: NewDownload, now: number): Promise<AddOutcome> {
    if (input.requestId !== undefined) {
      for (const record of this.#rows.values()) {
        if (record.requestId === input.requestId) return { record, created: false, event: undefined };
      }
    }
    const position = this.#lastPosition + 1;
    const record: DownloadRecord = { ...freshRecord(input, position, now), id: this.#nextId++ };
    this.#rows.set(record.id, record);
    this.#lastPosition = position;
    return { record, created: true, event: this.#event("added", record) };
  }

  async get(id: number): Promise<DownloadRecord | undefined> {
    return this.#rows.get(id);
  }

  async list(filter: RecordFilter = {}): Promise<DownloadRecord[]> {
    const states = filter.states ?? [];
    const labels = filter.labels ?? [];
    const matching = [...this.#rows.values()]
      .filter((r) => states.length === 0 || states.includes(r.state))
      .filter((r) => labels.length === 0 || r.labels.some((label) => labels.includes(label)));
    const offset = filter.offset ?? 0;
    if (filter.limit !== undefined && (offset + filter.limit) * 4 < matching.length) {
      return firstInOrder(matching, offset + filter.limit).slice(offset);
    }
    const rows = matching.sort(compareQueueOrder);
    return rows.slice(offset, filter.limit === undefined ? undefined : offset + filter.limit);
  }

  async update(
    id: number,
    patch: RecordPatch,
    now: number,
    owner?: string,
  ): Promise<StoredEvent | undefined> {
    const found = this.#rows.get(id);
    if (found === undefined || (owner !== undefined && found.node !== owner)) return undefined;
    const record = withLeaseRule({ ...found, ...patch, updatedAt: now });
    if (record.node === undefined) this.#leases.delete(id);
    this.#rows.set(id, record);
    // Positions change through move(); a patch that sets one keeps #lastPosition true all the same.
    if (patch.position !== undefined) this.#recountLast();
    return this.#event("changed", record);
  }

  async move(id: number, position: number, now: number): Promise<StoredEvent[]> {
    const found = this.#rows.get(id);
    if (found === undefined) return [];
    const from = found.position;
    const to = Math.min(position, this.#lastPosition);
    if (to === from) return [];
    const moved = { ...found, position: to, updatedAt: now };
    this.#rows.set(id, moved);
    const events = [this.#event("changed", moved)];
    for (const row of [...this.#rows.values()]) {
      if (row.id === id) continue;
      const shift =
        to < from ? row.position >= to && row.position < from : row.position > from && row.position <= to;
      if (!shift) continue;
      const shifted = { ...row, position: row.position + (to < from ? 1 : -1), updatedAt: now };
      this.#rows.set(row.id, shifted);
      events.push(this.#event("changed", shifted));
    }
    this.#recountLast();
    return events;
  }

  async claim(ids: readonly number[], node: string, leaseMs: number, now: number): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for (const id of ids) {
      const found = this.#rows.get(id);
      const due = found?.state === "queued" || (found?.state === "retrying" && (found.nextTryAt ?? 0) <= now);
      if (found === undefined || !due) continue;
      const record = {
        ...found,
        state: "running",
        node,
        failure: undefined,
        nextTryAt: undefined,
        updatedAt: now,
      } as const;
      this.#rows.set(id, record);
      this.#leases.set(id, { until: now + leaseMs, pauseRequested: false });
      events.push(this.#event("changed", record));
    }
    return events;
  }

  async heartbeat(
    node: string,
    progress: ReadonlyMap<number, number>,
    leaseMs: number,
    now: number,
  ): Promise<Heartbeat> {
    const owned = new Set<number>();
    const pauseRequested = new Set<number>();
    for (const [id, bytes] of progress) {
      const lease = this.#leases.get(id);
      const record = this.#rows.get(id);
      if (lease === undefined || record?.node !== node) continue;
      this.#rows.set(id, { ...record, bytesDownloaded: bytes });
      this.#leases.set(id, { until: now + leaseMs, pauseRequested: lease.pauseRequested });
      owned.add(id);
      if (lease.pauseRequested) pauseRequested.add(id);
    }
    return { owned, pauseRequested };
  }

  async reclaimExpired(now: number): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for (const [id, lease] of this.#leases) {
      const record = this.#rows.get(id);
      if (record === undefined || lease.until >= now) continue;
      const state = lease.pauseRequested ? "paused" : "queued";
      const failure = {
        kind: "lease_expired",
        retryable: true,
        message: `node ${record.node ?? "?"} stopped renewing its lease`,
      };
      const queued = { ...record, state, node: undefined, failure, updatedAt: now } as const;
      this.#rows.set(id, queued);
      this.#leases.delete(id);
      events.push(this.#event("changed", queued));
    }
    return events;
  }

  async claimNode(
    claim: NodeClaim,
    leaseMs: number,
    now: number,
    gone: (holder: NodeClaim) => boolean,
  ): Promise<NodeClaim | undefined> {
    const held = this.#nodes.get(claim.node);
    if (held !== undefined && held.claim.token !== claim.token && held.until >= now && !gone(held.claim)) {
      return held.claim;
    }
    this.#nodes.set(claim.node, { claim, until: now + leaseMs });
    return undefined;
  }

  async renewNode(claim: NodeClaim, leaseMs: number, now: number): Promise<boolean> {
    if (this.#nodes.get(claim.node)?.claim.token !== claim.token) return false;
    this.#nodes.set(claim.node, { claim, until: now + leaseMs });
    return true;
  }

  async releaseNode(claim: NodeClaim): Promise<void> {
    if (this.#nodes.get(claim.node)?.claim.token === claim.token) this.#nodes.delete(claim.node);
  }

  async requestPause(id: number): Promise<boolean> {
    const lease = this.#leases.get(id);
    if (lease === undefined) return false;
    lease.pauseRequested = true;
    return true;
  }

  async onChange(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  async remove(id: number): Promise<StoredEvent | undefined> {
    const found = this.#rows.get(id);
    if (found === undefined) return undefined;
    this.#rows.delete(id);
    this.#leases.delete(id);
    if (found.position === this.#lastPosition) this.#recountLast();
    return this.#event("removed", found);
  }

  async eventsAfter(seq: number, limit: number): Promise<StoredEvent[]> {
    return this.#events.filter((e) => e.seq > seq).slice(0, limit);
  }

  async lastSeq(): Promise<number> {
    return this.#seq;
  }

  async firstSeq(): Promise<number> {
    return this.#events[0]?.seq ?? this.#seq + 1;
  }

  async pruneEvents(keep: number, maxBytes?: number): Promise<void> {
    this.#events.splice(0, Math.max(0, this.#events.length - keep));
    if (maxBytes === undefined) return;
    let total = 0;
    for (let i = this.#events.length - 1; i >= 0; i--) {
      total += JSON.stringify(this.#events[i]?.record).length;
      if (total > maxBytes) {
        this.#events.splice(0, i + 1);
        return;
      }
    }
  }

  async countByState(): Promise<Map<QueueState, number>> {
    const counts = new Map<QueueState, number>();
    for (const r of this.#rows.values()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {}

  /** #lastPosition counted again over every row (after a move or the removal of the last row). */
  #recountLast(): void {
    this.#lastPosition = 0;
    for (const row of this.#rows.values()) this.#lastPosition = Math.max(this.#lastPosition, row.position);
  }

  #event(kind: StoredEvent["kind"], record: DownloadRecord): StoredEvent {
    const event = { seq: ++this.#seq, downloadId: record.id, kind, record };
    // Kept as the SQL stores keep it: without secrets (the caller gets the record as written).
    this.#events.push({ ...event, record: { ...record, headers: hideSecrets(record.headers) } });
    return event;
  }
}
