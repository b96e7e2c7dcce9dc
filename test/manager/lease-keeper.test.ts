// The lease keeper, against a real (memory) store: renewal, a lease taken over, a pause asked from another
// node, a node name taken by another process, and the reclaim of a dead node's downloads.
import { expect, test } from "bun:test";
import { getLogger } from "@logtape/logtape";
import { type LeasedJob, LeaseKeeper } from "../../src/manager/lease-keeper.ts";
import { MemoryStore } from "../../src/manager/memory-store.ts";
import type { NodeClaim } from "../../src/manager/node-claim.ts";
import { newDownload } from "../helpers/new-download.ts";

const LEASE = 60_000;

function fakeJob(bytes: number) {
  const seen: string[] = [];
  const job: LeasedJob = {
    claimedAt: 0,
    bytes: () => bytes,
    lose: (why) => seen.push(`lose: ${why}`),
    pause: () => seen.push("pause"),
  };
  return { job, seen };
}

async function setup() {
  const store = new MemoryStore();
  const claim: NodeClaim = { node: "a", token: "t-a", host: "h", pid: 1 };
  let now = 1_000;
  expect(await store.claimNode(claim, LEASE, now, () => false)).toBeUndefined();
  const id = (await store.add(newDownload("http://x/a"), now)).record.id;
  await store.claim([id], "a", LEASE, now);
  const { job, seen } = fakeJob(4096);
  const reclaimed: number[] = [];
  const keeper = new LeaseKeeper({
    store,
    claim,
    leaseMs: LEASE,
    now: () => now,
    jobs: () => new Map([[id, job]]),
    onReclaimed: (events) => reclaimed.push(...events.map((e) => e.downloadId)),
    log: getLogger(["dlm", "test"]),
  });
  return { store, keeper, id, seen, reclaimed, advance: (ms: number) => (now += ms) };
}

test("a beat renews the lease and stores the job's bytes", async () => {
  const { store, keeper, id, seen } = await setup();
  await keeper.beat();
  expect(seen).toEqual([]);
  expect((await store.get(id))?.bytesDownloaded).toBe(4096);
});

test("a pause asked from another node pauses the job; a lease taken over stops it without a write", async () => {
  const { store, keeper, id, seen } = await setup();
  await store.requestPause(id);
  await keeper.beat();
  expect(seen).toEqual(["pause"]);
  await store.update(id, { node: "thief" }, 2_000);
  await keeper.beat();
  expect(seen).toEqual(["pause", "lose: its lease was taken over"]);
});

test("the node name taken by another process: every job stops and the beat fails", async () => {
  const { store, keeper, seen } = await setup();
  await store.claimNode({ node: "a", token: "t-b", host: "h", pid: 2 }, LEASE, 1_000, () => true);
  await expect(keeper.beat()).rejects.toThrow("node a is held by another process now");
  expect(seen).toEqual(["lose: node a was taken by another process"]);
});

test("a dead node's download is reclaimed and handed on", async () => {
  const { store, keeper, reclaimed, advance } = await setup();
  const other = (await store.add(newDownload("http://x/b"), 1_000)).record.id;
  await store.claim([other], "dead", 10, 1_000);
  advance(1_000);
  await keeper.beat();
  expect(reclaimed).toEqual([other]);
  expect((await store.get(other))?.state).toBe("queued");
});
