import { describe, expect, test } from "bun:test";
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DownloadSchema, type WatchAllResponse } from "../../src/gen/dlm/v1/download_pb.ts";
import { QueueModel } from "../../src/interfaces/http/dashboard/manager/queue-model.ts";
import { toDownload } from "../../src/interfaces/rpc/download-message.ts";
import { type WatchAllLimits, type WatchAllSource, watchAll } from "../../src/interfaces/rpc/watch-all.ts";
import type { DownloadRecord, EventKind, StoredEvent } from "../../src/manager/download-record.ts";
import type { DownloadView, ManagerListener, QueueStats } from "../../src/manager/manager-events.ts";

// WatchAll against a fake manager that stores events in memory and can publish while the stream reads the
// store: the moments where replay and live events overlap, which a real daemon hits only by chance.

function record(id: number, headers: readonly (readonly [string, string])[] = []): DownloadRecord {
  return {
    id,
    url: `http://127.0.0.1:1/${id}.bin`,
    output: `${id}.bin`,
    directory: "",
    path: undefined,
    headers,
    checksum: undefined,
    connections: 0,
    speedLimit: 0,
    priority: 0,
    position: id,
    labels: [],
    state: "paused",
    failure: undefined,
    nextTryAt: undefined,
    attempts: 0,
    bytesDownloaded: 0,
    totalBytes: undefined,
    sha256: undefined,
    requestId: undefined,
    node: undefined,
    mirrors: [],
    createdAt: 0,
    updatedAt: 0,
  };
}

const STATS: QueueStats = { counts: new Map(), bytesPerSecond: 0, active: 0, maxActive: 1, globalLimit: 0 };

/** An in-memory event log with listeners; `during` runs inside the next store read (then is cleared). */
class FakeManager implements WatchAllSource {
  readonly events: StoredEvent[] = [];
  readonly rows = new Map<number, DownloadRecord>();
  readonly #listeners = new Set<ManagerListener>();
  during: (() => void) | undefined;

  readonly store = {
    lastSeq: async () => this.events.at(-1)?.seq ?? 0,
    firstSeq: async () => this.events[0]?.seq ?? 1,
    eventsAfter: async (seq: number, limit: number) => {
      this.#runDuring();
      return this.events.filter((e) => e.seq > seq).slice(0, limit);
    },
  };

  subscribe(listener: ManagerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async list(): Promise<DownloadView[]> {
    this.#runDuring();
    return [...this.rows.values()].map((r) => ({ ...r, bytesPerSecond: 0 }));
  }

  /** Stores and publishes one event. */
  emit(kind: EventKind, row: DownloadRecord): void {
    if (kind === "removed") this.rows.delete(row.id);
    else this.rows.set(row.id, row);
    const event: StoredEvent = {
      seq: (this.events.at(-1)?.seq ?? 0) + 1,
      downloadId: row.id,
      kind,
      record: row,
    };
    this.events.push(event);
    for (const listener of this.#listeners) listener({ kind: "stored", event });
  }

  tick(): void {
    const progress = [...this.rows.values()].map((r) => ({ ...r, bytesPerSecond: 7 }));
    const seq = this.events.at(-1)?.seq ?? 0;
    for (const listener of this.#listeners) listener({ kind: "tick", seq, progress, stats: STATS });
  }

  #runDuring(): void {
    const during = this.during;
    this.during = undefined;
    during?.();
  }
}

const LIMITS: WatchAllLimits = { maxBacklogBytes: 1 << 20, maxBacklogEvents: 1000, pageBytes: 4096 };

/** Pulls messages until `stop` says so (bounded: the fake never blocks once its events are out). */
async function take(
  stream: AsyncGenerator<WatchAllResponse>,
  stop: (m: WatchAllResponse) => boolean,
): Promise<WatchAllResponse[]> {
  const out: WatchAllResponse[] = [];
  for (let i = 0; i < 10_000; i++) {
    const next = await stream.next();
    if (next.done === true) break;
    out.push(next.value);
    if (stop(next.value)) break;
  }
  return out;
}

const STORED = new Set(["added", "changed", "removed"]);

describe("WatchAll with a fake manager", () => {
  test("replay then live: stored events strictly increasing, none twice, ticks tagged with the last seq", async () => {
    const manager = new FakeManager();
    for (let id = 1; id <= 5; id++) manager.emit("added", record(id));
    // Published while the replay reads the store: both the store and the mailbox have 6 and 7.
    manager.during = () => {
      manager.emit("changed", record(1));
      manager.emit("added", record(6));
    };
    const abort = new AbortController();
    const stream = watchAll(manager, 2, abort.signal, LIMITS);
    const replayed = await take(stream, (m) => m.seq === 7n);
    manager.emit("removed", record(2));
    const removed = await take(stream, (m) => m.seq === 8n);
    manager.tick();
    const ticked = await take(stream, (m) => m.event.case === "stats");
    manager.emit("changed", record(3));
    const live = [...removed, ...ticked, ...(await take(stream, (m) => m.seq === 9n))];
    abort.abort();
    await stream.return(undefined);
    const all = [...replayed, ...live];
    const stored = all.filter((m) => STORED.has(m.event.case ?? "")).map((m) => m.seq);
    expect(stored).toEqual([3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    const seqs = all.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const ticks = all.filter((m) => m.event.case === "progress" || m.event.case === "stats");
    expect(ticks.length).toBeGreaterThan(0);
    expect(ticks.every((m) => m.seq === 8n)).toBe(true);
  });

  test("the snapshot comes in pages of bounded size; an event during the list follows it", async () => {
    const manager = new FakeManager();
    for (let id = 1; id <= 40; id++) manager.emit("added", record(id, [["X-Pad", "p".repeat(500)]]));
    manager.during = () => manager.emit("added", record(41));
    const abort = new AbortController();
    const stream = watchAll(manager, 0, abort.signal, LIMITS);
    const messages = await take(stream, (m) => m.event.case === "added");
    abort.abort();
    const pages = messages.filter((m) => m.event.case === "snapshot");
    expect(pages.length).toBeGreaterThan(3);
    // The manager page's model takes the pages as one list, and a later snapshot replaces it.
    const model = new QueueModel();
    for (const m of pages) model.apply(m);
    expect(model.size).toBe(41);
    model.apply(pages.at(-1) as WatchAllResponse);
    expect(model.size).toBeLessThan(41);
    const ids: bigint[] = [];
    pages.forEach((m, i) => {
      if (m.event.case !== "snapshot") return;
      expect(m.seq).toBe(40n);
      expect(m.event.value.nextPageToken === "").toBe(i === pages.length - 1);
      const bytes = m.event.value.downloads.reduce((n, d) => n + toBinary(DownloadSchema, d).length, 0);
      expect(bytes).toBeLessThanOrEqual(LIMITS.pageBytes);
      ids.push(...m.event.value.downloads.map((d) => d.id));
    });
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(40);
    expect(messages.at(-1)?.seq).toBe(41n);
  });

  test("a watcher owing more bytes than its bound ends with RESOURCE_EXHAUSTED and resumes from its seq", async () => {
    const manager = new FakeManager();
    manager.emit("added", record(1));
    const limits: WatchAllLimits = { ...LIMITS, maxBacklogBytes: 20_000 };
    const slow = watchAll(manager, 0, new AbortController().signal, limits);
    const [snapshot] = await take(slow, () => true);
    expect(snapshot?.seq).toBe(1n);
    // It does not read while 100 events of ~1 KB are published (about 100 KB, five times its bound).
    for (let id = 2; id <= 101; id++) manager.emit("added", record(id, [["X-Pad", "p".repeat(1000)]]));
    const ended = await slow.next().then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(ended?.code).toBe(Code.ResourceExhausted);
    expect(ended?.rawMessage).toContain("reconnect with since_seq 1");
    const abort = new AbortController();
    const resumed = await take(watchAll(manager, 1, abort.signal, limits), (m) => m.seq === 101n);
    abort.abort();
    expect(resumed.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i + 2)));
  });

  test("credential headers are shown as set, in the snapshot and in events", async () => {
    const manager = new FakeManager();
    const secret = [
      ["Authorization", "Bearer s3cr3t-value"],
      ["Cookie", "sid=s3cr3t-value"],
      ["X-Trace", "visible"],
    ] as const;
    manager.emit("added", record(1, secret));
    const abort = new AbortController();
    const stream = watchAll(manager, 0, abort.signal, LIMITS);
    const first = await take(stream, () => true);
    manager.emit("changed", record(1, secret));
    const second = await take(stream, () => true);
    abort.abort();
    const text = JSON.stringify([...first, ...second], (_k, v: unknown) =>
      typeof v === "bigint" ? String(v) : v,
    );
    expect(text).not.toContain("s3cr3t");
    expect(text).toContain("visible");
    const event = second[0]?.event;
    expect(event?.case === "changed" && event.value.headers.map((h) => h.value)).toEqual([
      "set",
      "set",
      "visible",
    ]);
  });

  test("a row with numbers no field can hold still encodes (a List or WatchAll never breaks on it)", () => {
    const bad = {
      ...record(1),
      speedLimit: 2 ** 64,
      position: Number.NaN,
      priority: 2 ** 40,
      bytesPerSecond: 0,
    };
    const message = toDownload(bad);
    expect(() => toBinary(DownloadSchema, message)).not.toThrow();
    expect(message.speedLimit).toBe(2n ** 64n - 1n);
  });
});
