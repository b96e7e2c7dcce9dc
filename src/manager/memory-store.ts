import type { DownloadRecord, NewDownload, QueueState, RecordPatch, StoredEvent } from "./download-record.ts";
import type { AddOutcome, RecordFilter, Store } from "./store.ts";

/**
 * The Store in memory, for batches without a daemon (`dlm get URL URL...`): the same manager, nothing kept
 * after the process. Each download's bytes still live in its sidecar, so `dlm resume FILE` continues one.
 */
export class MemoryStore implements Store {
  readonly #rows = new Map<number, DownloadRecord>();
  readonly #events: StoredEvent[] = [];
  #nextId = 1;
  #seq = 0;

  async add(input: NewDownload, now: number): Promise<AddOutcome> {
    if (input.requestId !== undefined) {
      for (const record of this.#rows.values()) {
        if (record.requestId === input.requestId) return { record, created: false, event: undefined };
      }
    }
    const position = Math.max(0, ...[...this.#rows.values()].map((r) => r.position)) + 1;
    const record: DownloadRecord = {
      ...input,
      id: this.#nextId++,
      path: undefined,
      position,
      failure: undefined,
      nextTryAt: undefined,
      attempts: 0,
      bytesDownloaded: 0,
      totalBytes: undefined,
      sha256: undefined,
      createdAt: now,
      updatedAt: now,
    };
    this.#rows.set(record.id, record);
    return { record, created: true, event: this.#event("added", record) };
  }

  async get(id: number): Promise<DownloadRecord | undefined> {
    return this.#rows.get(id);
  }

  async list(filter: RecordFilter = {}): Promise<DownloadRecord[]> {
    const states = filter.states ?? [];
    const labels = filter.labels ?? [];
    const rows = [...this.#rows.values()]
      .filter((r) => states.length === 0 || states.includes(r.state))
      .filter((r) => labels.length === 0 || r.labels.some((label) => labels.includes(label)))
      .sort((a, b) => b.priority - a.priority || a.position - b.position || a.id - b.id);
    const offset = filter.offset ?? 0;
    return rows.slice(offset, filter.limit === undefined ? undefined : offset + filter.limit);
  }

  async update(id: number, patch: RecordPatch, now: number): Promise<StoredEvent | undefined> {
    const found = this.#rows.get(id);
    if (found === undefined) return undefined;
    const record = { ...found, ...patch, updatedAt: now };
    this.#rows.set(id, record);
    return this.#event("changed", record);
  }

  async remove(id: number): Promise<StoredEvent | undefined> {
    const found = this.#rows.get(id);
    if (found === undefined) return undefined;
    this.#rows.delete(id);
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

  async pruneEvents(keep: number): Promise<void> {
    this.#events.splice(0, Math.max(0, this.#events.length - keep));
  }

  async countByState(): Promise<Map<QueueState, number>> {
    const counts = new Map<QueueState, number>();
    for (const r of this.#rows.values()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {}

  #event(kind: StoredEvent["kind"], record: DownloadRecord): StoredEvent {
    const event = { seq: ++this.#seq, downloadId: record.id, kind, record };
    this.#events.push(event);
    return event;
  }
}
