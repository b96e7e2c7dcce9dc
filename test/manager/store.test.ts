import { afterAll, beforeAll, test as bunTest, describe, expect } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { MemoryStore } from "../../src/manager/memory-store.ts";
import { SCHEMA_VERSION } from "../../src/manager/sql-dialect-sqlite.ts";
import { PostgresStore, SqliteStore } from "../../src/manager/sql-store.ts";
import type { Store } from "../../src/manager/store.ts";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { type Postgres, postgresMissing, startPostgres } from "../helpers/postgres.ts";

const dirs = tempDirs("dlm-store-");
const noPostgres = postgresMissing();
let pg: Postgres | undefined;
let databases = 0;
beforeAll(async () => {
  if (noPostgres === undefined) pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  await dirs.removeAll();
});
if (noPostgres !== undefined) console.warn(`skipping PostgresStore tests: ${noPostgres}`);

/** A PostgresStore on a fresh database of the test cluster. */
async function openPostgres(): Promise<PostgresStore> {
  if (pg === undefined) throw new Error("no PostgreSQL cluster");
  return PostgresStore.open(await pg.createDatabase(`store${++databases}`));
}

const input = newDownload;

const test = bunTest;

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
  ["PostgresStore", openPostgres],
];

describe.each(stores)("%s (the Store contract)", (name, open) => {
  // Skipped only where PostgreSQL is not installed (.ci/run installs it).
  const test = name === "PostgresStore" && noPostgres !== undefined ? bunTest.skip : bunTest;
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

  test("a limit gives the head of the queue in order, as the whole list sorted would (the planner reads so)", async () => {
    const store = await open();
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      const priority = i % 7 === 3 ? 2 : i % 5 === 1 ? -1 : 0;
      const state = i % 6 === 2 ? "paused" : "queued";
      ids.push((await store.add(input(`http://x/${i}`, { priority, state }), 1)).record.id);
    }
    // Moved to the front, so position order is not id order.
    await store.move(ids[30] as number, 1, 2);
    const all = (await store.list({ states: ["queued"] })).map((r) => r.id);
    for (const [offset, limit] of [
      [0, 1],
      [0, 5],
      [2, 3],
      [0, 9],
    ] as const) {
      const head = await store.list({ states: ["queued"], offset, limit });
      expect(head.map((r) => r.id)).toEqual(all.slice(offset, offset + limit));
    }
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

  test("claim takes only startable downloads, leases them, and a lease-holder's write is guarded", async () => {
    const store = await open();
    const a = (await store.add(input("http://x/a"), 1)).record;
    const b = (await store.add(input("http://x/b", { state: "paused" }), 1)).record;
    const c = (await store.add(input("http://x/c"), 1)).record;
    await store.update(c.id, { state: "retrying", nextTryAt: 1_000 }, 1);
    const claimed = await store.claim([a.id, b.id, c.id], "n1", 60_000, 10);
    // b is paused and c is not due yet: only a starts.
    expect(claimed.map((e) => [e.downloadId, e.record.state, e.record.node])).toEqual([
      [a.id, "running", "n1"],
    ]);
    expect(await store.claim([a.id], "n2", 60_000, 10)).toEqual([]);
    expect((await store.claim([c.id], "n2", 60_000, 2_000)).map((e) => e.record.node)).toEqual(["n2"]);
    // Another node cannot write a row leased to n1; n1 can, and leaving running releases the lease.
    expect(await store.update(a.id, { state: "finished" }, 11, "n2")).toBeUndefined();
    const done = await store.update(a.id, { state: "finished" }, 12, "n1");
    expect(done?.record.node).toBeUndefined();
    expect((await store.get(a.id))?.node).toBeUndefined();
    expect(await store.update(a.id, { state: "failed" }, 13, "n1")).toBeUndefined();
    await store.close();
  });

  test("heartbeat renews leases and stores progress; expired leases go back to the queue", async () => {
    const store = await open();
    const a = (await store.add(input("http://x/a"), 1)).record;
    const b = (await store.add(input("http://x/b"), 1)).record;
    // Wall-clock times: the SQL stores keep leases on the database's clock, the memory store on the one passed in.
    const t = Date.now();
    await store.claim([a.id], "n1", 60_000, t);
    // A lease of 0 ms has lapsed by the time anyone looks.
    await store.claim([b.id], "n2", 0, t);
    await Bun.sleep(5);
    const beat = await store.heartbeat("n1", new Map([[a.id, 4096]]), 60_000, t + 5);
    expect([...beat.owned]).toEqual([a.id]);
    expect([...beat.pauseRequested]).toEqual([]);
    expect((await store.get(a.id))?.bytesDownloaded).toBe(4096);
    const reclaimed = await store.reclaimExpired(Date.now() + 1);
    expect(reclaimed.map((e) => [e.downloadId, e.record.state, e.record.node])).toEqual([
      [b.id, "queued", undefined],
    ]);
    expect(reclaimed[0]?.record.failure).toEqual({
      kind: "lease_expired",
      retryable: true,
      message: "node n2 stopped renewing its lease",
    });
    // n2's heartbeat now finds it holds nothing: it must stop its job.
    expect([...(await store.heartbeat("n2", new Map([[b.id, 1]]), 60_000, t + 10)).owned]).toEqual([]);
    expect((await store.get(b.id))?.bytesDownloaded).toBe(0);
    expect(await store.requestPause(b.id)).toBe(false);
    expect(await store.requestPause(a.id)).toBe(true);
    expect([
      ...(await store.heartbeat("n1", new Map([[a.id, 8192]]), 60_000, t + 20)).pauseRequested,
    ]).toEqual([a.id]);
    // A node renews only the leases of downloads it says it runs.
    expect((await store.heartbeat("n1", new Map(), 60_000, t + 30)).owned.size).toBe(0);
    await store.close();
  });

  test("one heartbeat stores each download's own bytes and renews only the node's own leases", async () => {
    const store = await open();
    const ids: number[] = [];
    for (const name of ["a", "b", "c"]) ids.push((await store.add(input(`http://x/${name}`), 1)).record.id);
    const [a = 0, b = 0, c = 0] = ids;
    await store.claim([a, b], "n1", 60_000, Date.now());
    await store.claim([c], "n2", 60_000, Date.now());
    const progress = new Map([
      [a, 100],
      // Past 2^32: a large file's byte count keeps its type in the one statement.
      [b, 5_000_000_000],
      [c, 300],
    ]);
    const beat = await store.heartbeat("n1", progress, 60_000, Date.now());
    expect([...beat.owned].sort((x, y) => x - y)).toEqual([a, b]);
    expect((await store.list()).map((r) => r.bytesDownloaded)).toEqual([100, 5_000_000_000, 0]);
    await store.close();
  });

  test("a pause asked of a node that then died holds when its download is reclaimed", async () => {
    const store = await open();
    const { record } = await store.add(input("http://x/a"), 1);
    await store.claim([record.id], "dead", 0, Date.now());
    expect(await store.requestPause(record.id)).toBe(true);
    await Bun.sleep(5);
    const reclaimed = await store.reclaimExpired(Date.now() + 1);
    expect(reclaimed.map((e) => [e.record.state, e.record.node])).toEqual([["paused", undefined]]);
    await store.close();
  });

  test("claimNode: a live claim of another process holds the name; once gone or released, it is taken", async () => {
    const store = await open();
    const mine = { node: "n", token: "t1", host: "h", pid: 1 };
    const twin = { node: "n", token: "t2", host: "h", pid: 2 };
    const never = () => false;
    const now = Date.now();
    expect(await store.claimNode(mine, 60_000, now, never)).toBeUndefined();
    expect(await store.claimNode(twin, 60_000, now, never)).toEqual(mine);
    expect(await store.renewNode(mine, 60_000, now)).toBe(true);
    expect(await store.renewNode(twin, 60_000, now)).toBe(false);
    // Its process is known dead (kill -9 on this host): taken at once.
    expect(await store.claimNode(twin, 60_000, now, (held) => held.pid === 1)).toBeUndefined();
    expect(await store.renewNode(mine, 60_000, now)).toBe(false);
    await store.releaseNode(twin);
    expect(await store.claimNode(mine, 60_000, now, never)).toBeUndefined();
    await store.close();
  });

  test("move puts one row at a position and shifts the others: positions stay unique, in one transaction", async () => {
    const store = await open();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.add(input(`http://x/${i}`), 1)).record.id);
    const order = async () => (await store.list()).map((r) => r.id);
    const positions = async () => (await store.list()).map((r) => r.position);
    // Last to second: 2..4 shift down by one.
    const events = await store.move(ids[4] ?? 0, 2, 5);
    expect(events.map((e) => e.downloadId)).toEqual([4, 1, 2, 3].map((i) => ids[i] ?? -1));
    expect(await order()).toEqual([0, 4, 1, 2, 3].map((i) => ids[i] ?? -1));
    expect(await positions()).toEqual([1, 2, 3, 4, 5]);
    // Second to fourth: the two after it shift up.
    await store.move(ids[4] ?? 0, 4, 6);
    expect(await order()).toEqual([0, 1, 2, 4, 3].map((i) => ids[i] ?? -1));
    // Past the end: last.
    await store.move(ids[0] ?? 0, 1_000, 7);
    expect(await order()).toEqual([1, 2, 4, 3, 0].map((i) => ids[i] ?? -1));
    expect(new Set(await positions()).size).toBe(5);
    expect(await store.move(ids[0] ?? 0, 5, 8)).toEqual([]);
    expect(await store.move(999, 1, 8)).toEqual([]);
    await store.close();
  });

  test("events never hold a credential header's value; the row keeps it", async () => {
    const store = await open();
    const headers = [
      ["Authorization", "Bearer s3cret"],
      ["Accept", "*/*"],
    ] as const;
    const { record } = await store.add(input("http://x/a", { headers }), 1);
    expect(record.headers).toEqual(headers);
    await store.update(record.id, { priority: 2 }, 2);
    await store.remove(record.id, 3);
    const events = await store.eventsAfter(0, 100);
    expect(events.length).toBe(3);
    expect(JSON.stringify(events)).not.toContain("s3cret");
    expect(events[0]?.record.headers).toEqual([
      ["Authorization", ""],
      ["Accept", "*/*"],
    ]);
    await store.close();
  });

  test("pruneEvents with maxBytes keeps the newest events within that many payload bytes", async () => {
    const store = await open();
    const { record } = await store.add(input("http://x/a", { headers: [["X-Pad", "p".repeat(1000)]] }), 1);
    for (let i = 0; i < 50; i++) await store.update(record.id, { priority: i }, 2);
    await store.pruneEvents(1_000_000, 10_000);
    const kept = await store.eventsAfter(0, 1000);
    expect(kept.length).toBeGreaterThanOrEqual(5);
    expect(kept.length).toBeLessThanOrEqual(9);
    expect(kept.at(-1)?.record.priority).toBe(49);
    await store.close();
  });
});

describe.each(stores.filter(([name]) => name !== "MemoryStore"))(
  "%s (the database's clock)",
  (name, open) => {
    const test = name === "PostgresStore" && noPostgres !== undefined ? bunTest.skip : bunTest;
    test("leases and node claims run on the database's clock, whatever `now` the caller passes", async () => {
      const store = await open();
      const { record } = await store.add(input("http://x/a"), 1);
      // A node whose clock is far behind still takes a full lease, and one far ahead does not end it.
      await store.claim([record.id], "slow", 60_000, 0);
      expect(await store.reclaimExpired(Date.now() + 3_600_000)).toEqual([]);
      expect((await store.get(record.id))?.node).toBe("slow");
      const mine = { node: "n", token: "t1", host: "h", pid: 1 };
      expect(await store.claimNode(mine, 60_000, 0, () => false)).toBeUndefined();
      expect(
        await store.claimNode({ ...mine, token: "t2" }, 60_000, Date.now() + 3_600_000, () => false),
      ).toEqual(mine);
      await store.close();
    });
  },
);

describe.skipIf(noPostgres !== undefined)("PostgresStore with several writers", () => {
  test("concurrent claims from three nodes never take one download twice", async () => {
    const url = await (pg as Postgres).createDatabase("claims");
    const nodes = await Promise.all([1, 2, 3].map(() => PostgresStore.open(url)));
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push((await nodes[0]!.add(input(`http://x/${i}`), 1)).record.id);
    const taken = await Promise.all(
      nodes.map(async (store, n) => {
        const mine: number[] = [];
        // Until nothing is queued (bounded in time, not in rounds: a node that finds the rows it listed
        // locked by another's claim spins fast, and may do many empty rounds while that claim commits).
        const deadline = performance.now() + 20_000;
        while (performance.now() < deadline) {
          const waiting = (await store.list({ states: ["queued"] })).map((r) => r.id).slice(0, 3);
          if (waiting.length === 0) break;
          for (const event of await store.claim(waiting, `n${n}`, 60_000, 2)) mine.push(event.downloadId);
        }
        return mine;
      }),
    );
    const all = taken.flat();
    expect(all.length).toBe(30);
    expect(new Set(all).size).toBe(30);
    for (const store of nodes) await store.close();
  });

  test("events written by concurrent transactions get gap-free seqs, and readers never skip one", async () => {
    const url = await (pg as Postgres).createDatabase("seqs");
    const writers = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.open(url)));
    const reader = await PostgresStore.open(url);
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push((await reader.add(input(`http://x/${i}`), 1)).record.id);
    // A reader polls while four writers commit changes concurrently; each poll must continue the sequence.
    let last = await reader.lastSeq();
    const seen: number[] = [];
    let writing = true;
    const reading = (async () => {
      while (writing || last < (await reader.lastSeq())) {
        for (const event of await reader.eventsAfter(last, 1000)) {
          expect(event.seq).toBe(last + 1);
          last = event.seq;
          seen.push(event.seq);
        }
      }
    })();
    await Promise.all(
      writers.map(async (store, n) => {
        for (let i = 0; i < 40; i++) await store.update(ids[n]!, { priority: i }, 2);
      }),
    );
    writing = false;
    await reading;
    expect(seen.length).toBe(160);
    expect(await reader.lastSeq()).toBe(164);
    for (const store of [...writers, reader]) await store.close();
  });

  test("onChange wakes another node when an event is stored or a pause is asked", async () => {
    const url = await (pg as Postgres).createDatabase("wake");
    const [a, b] = await Promise.all([PostgresStore.open(url), PostgresStore.open(url)]);
    const waiters = new Map<string, () => void>();
    const seen: string[] = [];
    const stop = await b.onChange((what) => {
      seen.push(what);
      waiters.get(what)?.();
    });
    const wakeOf = (what: string) => new Promise<void>((resolve) => waiters.set(what, resolve));
    // (Subscribing also wakes once per channel, so a node catches up after a reconnect.)
    let waiting = wakeOf("events");
    const { record } = await a.add(input("http://x/a"), 1);
    await waiting;
    await a.claim([record.id], "na", 60_000, 2);
    waiting = wakeOf("requests");
    expect(await a.requestPause(record.id)).toBe(true);
    await waiting;
    expect(seen).toContain("requests");
    await stop();
    await a.close();
    await b.close();
  });
});
