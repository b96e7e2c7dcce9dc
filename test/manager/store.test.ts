import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import type { NewDownload } from "../../src/manager/download-record.ts";
import { MemoryStore } from "../../src/manager/memory-store.ts";
import { SCHEMA_VERSION, SqliteStore } from "../../src/manager/sqlite-store.ts";
import type { Store } from "../../src/manager/store.ts";
import { tempDirs } from "../helpers/cli.ts";

const dirs = tempDirs("dlm-store-");
afterAll(() => dirs.removeAll());

function input(url: string, extra: Partial<NewDownload> = {}): NewDownload {
  return {
    url,
    output: undefined,
    directory: "",
    headers: [],
    checksum: undefined,
    connections: 0,
    speedLimit: 0,
    priority: 0,
    labels: [],
    state: "queued",
    requestId: undefined,
    ...extra,
  };
}

describe("SqliteStore", () => {
  test("migrates a new database to the current schema version, and reopening keeps the rows", async () => {
    const path = join(await dirs.fresh(), "dlm.db");
    const store = await SqliteStore.open(path);
    await store.add(input("http://x/a"), 1);
    await store.close();
    const raw = new SQL(`sqlite://${path}`);
    const [row] = await raw`SELECT version FROM schema_version`;
    expect(Number(row.version)).toBe(SCHEMA_VERSION);
    await raw.close();
    const again = await SqliteStore.open(path);
    expect((await again.list()).map((r) => r.url)).toEqual(["http://x/a"]);
    await again.close();
  });
});

const stores: [string, () => Promise<Store>][] = [
  ["SqliteStore", async () => SqliteStore.open(join(await dirs.fresh(), "dlm.db"))],
  ["MemoryStore", async () => new MemoryStore()],
];

describe.each(stores)("%s (the Store contract)", (_name, open) => {
  test("Add with a request_id already used returns the first download and stores no event", async () => {
    const store = await open();
    const first = await store.add(input("http://x/a", { requestId: "r1", labels: ["iso"] }), 1);
    const second = await store.add(input("http://x/other", { requestId: "r1" }), 2);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.record.id).toBe(first.record.id);
    expect(second.record.url).toBe("http://x/a");
    expect((await store.list()).length).toBe(1);
    expect((await store.eventsAfter(0, 100)).map((e) => e.kind)).toEqual(["added"]);
    await store.close();
  });

  test("lists in priority then position order, filtered by state and label, paged", async () => {
    const store = await open();
    const a = await store.add(input("http://x/a", { labels: ["iso"] }), 1);
    const b = await store.add(input("http://x/b", { priority: 5 }), 1);
    const c = await store.add(input("http://x/c", { labels: ["iso", "big"], state: "paused" }), 1);
    expect((await store.list()).map((r) => r.id)).toEqual([b.record.id, a.record.id, c.record.id]);
    expect((await store.list({ states: ["paused"] })).map((r) => r.id)).toEqual([c.record.id]);
    expect((await store.list({ labels: ["iso"] })).map((r) => r.id)).toEqual([a.record.id, c.record.id]);
    expect((await store.list({ offset: 1, limit: 1 })).map((r) => r.id)).toEqual([a.record.id]);
    expect(await store.countByState()).toEqual(
      new Map([
        ["queued", 2],
        ["paused", 1],
      ]),
    );
    await store.close();
  });

  test("every change stores an event with a strictly increasing seq and the record as it was", async () => {
    const store = await open();
    const { record } = await store.add(input("http://x/a"), 1);
    const failure = { kind: "network", retryable: true, message: "refused" };
    await store.update(record.id, { state: "retrying", failure, nextTryAt: 50 }, 2);
    await store.update(record.id, { state: "running", failure: undefined, nextTryAt: undefined }, 3);
    const stored = await store.get(record.id);
    expect(stored?.failure).toBeUndefined();
    expect(stored?.nextTryAt).toBeUndefined();
    await store.remove(record.id, 4);
    const events = await store.eventsAfter(0, 100);
    expect(events.map((e) => e.kind)).toEqual(["added", "changed", "changed", "removed"]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events[1]?.record.failure).toEqual(failure);
    expect((await store.eventsAfter(2, 100)).map((e) => e.seq)).toEqual([3, 4]);
    expect(await store.lastSeq()).toBe(4);
    expect(await store.get(record.id)).toBeUndefined();
    // Ids are never reused, even after the last one was removed.
    const next = await store.add(input("http://x/b"), 5);
    expect(next.record.id).toBeGreaterThan(record.id);
    await store.close();
  });

  test("pruning keeps the newest events; firstSeq says where replays can start", async () => {
    const store = await open();
    expect(await store.firstSeq()).toBe(1);
    const { record } = await store.add(input("http://x/a"), 1);
    for (let i = 0; i < 9; i++) await store.update(record.id, { priority: i }, 2);
    await store.pruneEvents(3);
    expect((await store.eventsAfter(0, 100)).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(await store.firstSeq()).toBe(8);
    expect(await store.lastSeq()).toBe(10);
    await store.pruneEvents(0);
    // Nothing kept, yet the sequence does not go back.
    expect(await store.firstSeq()).toBe(11);
    expect(await store.lastSeq()).toBe(10);
    await store.update(record.id, { priority: 1 }, 3);
    expect((await store.eventsAfter(0, 100)).map((e) => e.seq)).toEqual([11]);
    await store.close();
  });
});
