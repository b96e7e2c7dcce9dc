// Several `dlm serve` nodes sharing one PostgreSQL queue and one download directory: each download runs once,
// a dead node's downloads are taken over, a pause reaches the node that runs it, a node name is one process's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SQL } from "bun";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState, type WatchAllResponse } from "../../src/gen/dlm/v1/download_pb.ts";
import { homeNodeName } from "../../src/interfaces/cli/serve-home.ts";
import { sha256Hex, sha256Of } from "../helpers/bytes.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type Postgres, postgresMissing, startPostgres } from "../helpers/postgres.ts";
import { type ServeProcess, startServe, stopServe } from "./serve-fixture.ts";

const noPostgres = postgresMissing();
if (noPostgres !== undefined) console.warn(`skipping the fleet tests: ${noPostgres}`);

const dirs = tempDirs("dlm-fleet-");
let pg: Postgres;
let origin: Origin;
const started: ServeProcess[] = [];

beforeAll(async () => {
  if (noPostgres !== undefined) return;
  [pg, origin] = await Promise.all([startPostgres(), startOrigin()]);
});
afterAll(async () => {
  for (const serve of started) serve.child.kill("SIGKILL");
  await Promise.all(started.map((serve) => serve.child.exited));
  await origin?.close();
  await pg?.stop();
  await dirs.removeAll();
});

/** A node: its own home (serve.json, node name), the shared store and download directory. */
async function node(name: string, store: string, dir: string, extra: readonly string[] = []) {
  const serve = await startServe(await dirs.fresh(), dir, [
    "--store",
    store,
    "--node",
    name,
    "--lease-timeout",
    "2",
    ...extra,
  ]);
  started.push(serve);
  return serve;
}

/**
 * Follows WatchAll on `serve` (snapshot, then stored events from every node) until `done` holds for the
 * states by id; bounded by `timeoutMs`.
 */
async function watchUntil(
  serve: ServeProcess,
  done: (states: ReadonlyMap<bigint, DownloadState>) => boolean,
  timeoutMs = 40_000,
): Promise<Map<bigint, DownloadState>> {
  const states = new Map<bigint, DownloadState>();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const message of serve.client.watchAll({ sinceSeq: 0n }, { signal: abort.signal })) {
      apply(states, message);
      if (done(states)) return states;
    }
  } catch (error) {
    throw new Error(`WatchAll ended before the fleet got there: ${String(error)}; ${serve.stderr()}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  throw new Error("WatchAll ended");
}

function apply(states: Map<bigint, DownloadState>, message: WatchAllResponse): void {
  const event = message.event;
  if (event.case === "snapshot") for (const d of event.value.downloads) states.set(d.id, d.state);
  else if (event.case === "added" || event.case === "changed") states.set(event.value.id, event.value.state);
  else if (event.case === "removed") states.delete(event.value);
}

const finished = (n: number) => (states: ReadonlyMap<bigint, DownloadState>) =>
  [...states.values()].filter((s) => s === DownloadState.FINISHED).length === n;

/**
 * The claims in the events table: download id → the nodes that claimed it, in order (a claim is an event
 * that makes the download running when it was not).
 */
async function claims(store: string): Promise<Map<number, string[]>> {
  const db = new SQL({ url: store, max: 1 });
  try {
    const rows: { id: string; state: string; node: string | null }[] = await db`SELECT download_id AS id,
        payload::jsonb->>'state' AS state, payload::jsonb->>'node' AS node
      FROM dlm_events ORDER BY seq`;
    const byId = new Map<number, string[]>();
    const last = new Map<number, string>();
    for (const row of rows) {
      const id = Number(row.id);
      if (row.state === "running" && last.get(id) !== "running")
        byId.set(id, [...(byId.get(id) ?? []), row.node ?? ""]);
      last.set(id, row.state);
    }
    return byId;
  } finally {
    await db.close();
  }
}

/** The seqs WatchAll replays after `since` on `serve`, up to the last stored one (bounded: 10 s). */
async function storedSeqs(serve: ServeProcess, since: bigint): Promise<bigint[]> {
  const seqs: bigint[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10_000);
  try {
    for await (const message of serve.client.watchAll({ sinceSeq: since }, { signal: abort.signal })) {
      const kind = message.event.case;
      // progress and stats repeat the last stored seq: the replay is over when they come.
      if (kind === "progress" || kind === "stats") break;
      seqs.push(message.seq);
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return seqs;
}

async function fileSha(path: string): Promise<string> {
  return sha256Hex(new Uint8Array(await readFile(path)));
}

describe("node names", () => {
  test("a home makes its node name once and keeps it (0600), so a restarted node is the same node", async () => {
    const home = await dirs.fresh();
    const first = await homeNodeName(home);
    expect(first).toMatch(/^[A-Za-z0-9.-]+-[0-9a-f]{6}$/);
    expect(await homeNodeName(home)).toBe(first);
    expect((await stat(join(home, "node"))).mode & 0o777).toBe(0o600);
    expect(await homeNodeName(await dirs.fresh())).not.toBe(first);
  });
});

describe("dlm serve --store and --node: bad input", () => {
  test("a store that is not a postgres:// URL, or a bad node name, is a usage error before any I/O", async () => {
    const home = await dirs.fresh();
    const bad = await runDlm(["serve", "--store", "mysql://db/x"], { cwd: home, env: { DLM_HOME: home } });
    expect(bad.exitCode).toBe(EXIT.USAGE);
    expect(bad.stderr).toContain("--store: expected a postgres://");
    const name = await runDlm(["serve", "--node", "a b"], { cwd: home, env: { DLM_HOME: home } });
    expect(name.exitCode).toBe(EXIT.USAGE);
    expect(name.stderr).toContain("--node: expected 1..63 letters");
  });

  test("a database that cannot be reached is a network error naming the store, password left out", async () => {
    const home = await dirs.fresh();
    const run = await runDlm(["serve", "--store", "postgres://dlm:hunter2@127.0.0.1:1/dlm"], {
      cwd: home,
      env: { DLM_HOME: home },
    });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr).toContain("--store: cannot open the queue in postgres://dlm:***@127.0.0.1:1/dlm");
    expect(run.stderr).not.toContain("hunter2");
  });
});

describe.skipIf(noPostgres !== undefined)("dlm serve nodes sharing one PostgreSQL queue", () => {
  test("three nodes finish 60 queued downloads exactly once each, SHA-256 right; List on any node shows them all", async () => {
    const store = await pg.createDatabase("sixty");
    const dir = await dirs.fresh();
    const nodes = await Promise.all(["n1", "n2", "n3"].map((name) => node(name, store, dir)));
    const size = 96 * 1024;
    const expected = new Map<string, string>();
    origin.resetStats();
    // Paced so that no node can take everything: each runs at most 3 at a time.
    for (let i = 0; i < 60; i++) {
      const name = `f${String(i).padStart(2, "0")}.bin`;
      const url = origin.serve(`/sixty/${name}`, { size, seed: 100 + i, throttleBytesPerSec: 512 * 1024 });
      expected.set(name, sha256Of(size, 100 + i));
      // Added through all three nodes: one queue whichever node is asked.
      await nodes[i % 3]!.client.add({ url, output: name, connections: 1 });
    }
    await watchUntil(nodes[2]!, finished(60));
    for (const [name, sha] of expected) expect(await fileSha(join(dir, name))).toBe(sha);
    // Nothing fetched twice: the bodies plus at most the probes' bytes.
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(60 * size + 60 * 1024);
    const claimed = await claims(store);
    expect(claimed.size).toBe(60);
    for (const [id, by] of claimed) expect({ id, claims: by.length }).toEqual({ id, claims: 1 });
    expect(new Set([...claimed.values()].flat())).toEqual(new Set(["n1", "n2", "n3"]));
    // Every node lists the whole fleet's downloads.
    for (const serve of nodes) {
      const { downloads } = await serve.client.list({});
      expect(downloads.filter((d) => d.state === DownloadState.FINISHED).length).toBe(60);
    }
    // One event sequence: a watcher replaying from seq 10 gets the same gap-free events from any node.
    const replays = await Promise.all(nodes.map((serve) => storedSeqs(serve, 10n)));
    const last = replays[0]!.at(-1)!;
    expect(replays[0]).toEqual(Array.from({ length: Number(last - 10n) }, (_, i) => 11n + BigInt(i)));
    expect(replays[1]).toEqual(replays[0]!);
    expect(replays[2]).toEqual(replays[0]!);
    await Promise.all(nodes.map((serve) => stopServe(serve)));
  }, 120_000);

  test("kill -9 of a node mid-download: the others finish its downloads from the shared sidecars (≤ 1.1x bytes)", async () => {
    const store = await pg.createDatabase("killed");
    const dir = await dirs.fresh();
    // The victim starts alone so that it claims all three.
    const victim = await node("victim", store, dir);
    const size = 8 * 1024 * 1024;
    origin.resetStats();
    const ids: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const url = origin.serve(`/killed/k${i}.bin`, {
        size,
        seed: 200 + i,
        throttleBytesPerSec: 512 * 1024,
      });
      ids.push((await victim.client.add({ url, output: `k${i}.bin`, connections: 2 })).download!.id);
    }
    const others = await Promise.all(["s1", "s2"].map((name) => node(name, store, dir)));
    // Mid-download on the victim: every one of them has bytes in its sidecar.
    for (;;) {
      const { downloads } = await others[0]!.client.list({});
      const mine = downloads.filter((d) => d.node === "victim" && d.bytesDownloaded > 512n * 1024n);
      if (mine.length === 3) break;
      expect(downloads.every((d) => d.state !== DownloadState.FINISHED)).toBe(true);
      await Bun.sleep(100);
    }
    victim.child.kill("SIGKILL");
    await victim.child.exited;
    await watchUntil(others[0]!, finished(3));
    for (let i = 0; i < 3; i++) expect(await fileSha(join(dir, `k${i}.bin`))).toBe(sha256Of(size, 200 + i));
    const claimed = await claims(store);
    for (const id of ids) {
      const by = claimed.get(Number(id)) ?? [];
      expect(by[0]).toBe("victim");
      expect(["s1", "s2"]).toContain(by.at(-1) ?? "");
    }
    console.log(
      `fleet: after kill -9, bytes served ${(origin.stats.bytesServed / (3 * size)).toFixed(3)}x the size`,
    );
    expect(origin.stats.bytesServed).toBeLessThanOrEqual(1.1 * 3 * size);
    await Promise.all(others.map((serve) => stopServe(serve)));
  }, 120_000);

  test("a pause given on one node stops a download running on another within a second", async () => {
    const store = await pg.createDatabase("pause");
    const dir = await dirs.fresh();
    const [a, b] = await Promise.all([node("a", store, dir), node("b", store, dir)]);
    const url = origin.serve("/pause/slow.bin", { size: 64 * 1024 * 1024, throttleBytesPerSec: 512 * 1024 });
    const { download } = await a.client.add({ url, output: "slow.bin", connections: 1 });
    const id = download!.id;
    let owner = "";
    for (let i = 0; owner === "" && i < 100; i++) {
      const found = (await b.client.get({ id })).download;
      if (found?.state === DownloadState.RUNNING && found.bytesDownloaded > 0n) owner = found.node;
      else await Bun.sleep(50);
    }
    // Asked on the node that does not run it.
    const asked = owner === "a" ? b : a;
    const began = performance.now();
    const { downloads } = await asked.client.pause({ selector: { ids: [id] } });
    const elapsed = performance.now() - began;
    console.log(`fleet: pause through the other node took ${elapsed.toFixed(0)} ms`);
    expect(downloads[0]?.state).toBe(DownloadState.PAUSED);
    expect(elapsed).toBeLessThan(1000);
    // Stopped: the origin serves nothing more for it.
    const served = origin.stats.bytesServed;
    await Bun.sleep(300);
    expect(origin.stats.bytesServed).toBe(served);
    await Promise.all([a, b].map((serve) => stopServe(serve)));
  }, 60_000);

  test("a node whose lease was taken over stops that download at once and leaves its row alone", async () => {
    const store = await pg.createDatabase("stolen");
    const dir = await dirs.fresh();
    const a = await node("a", store, dir);
    const path = "/stolen/slow.bin";
    const url = origin.serve(path, { size: 64 * 1024 * 1024, throttleBytesPerSec: 512 * 1024 });
    const id = (await a.client.add({ url, output: "slow.bin", connections: 1 })).download!.id;
    for (let i = 0; i < 100; i++) {
      const found = (await a.client.get({ id })).download;
      if (found?.node === "a" && found.bytesDownloaded > 0n) break;
      await Bun.sleep(50);
    }
    // As if "a" had been cut off long enough for another node to reclaim it and start it.
    const db = new SQL({ url: store, max: 1 });
    await db`UPDATE dlm_downloads SET node = 'thief', lease_until = now() + interval '1 hour' WHERE id = ${Number(id)}`;
    const stolenAt = performance.now();
    // "a" notices at its next heartbeat (every second) and stops: the origin stops sending.
    let last = origin.stats.bytesServed;
    let quietSince = performance.now();
    while (performance.now() - quietSince < 400) {
      if (performance.now() - stolenAt > 5_000)
        throw new Error("node a kept downloading after losing its lease");
      await Bun.sleep(50);
      if (origin.stats.bytesServed !== last) {
        last = origin.stats.bytesServed;
        quietSince = performance.now();
      }
    }
    const stoppedAfter = quietSince - stolenAt;
    console.log(`fleet: a node stopped a download ${stoppedAfter.toFixed(0)} ms after losing its lease`);
    expect(stoppedAfter).toBeLessThan(1_500);
    const [row] = await db`SELECT state, node FROM dlm_downloads WHERE id = ${Number(id)}`;
    expect(row).toEqual({ state: "running", node: "thief" });
    await db.close();
    expect(a.stderr()).not.toContain("bookkeeping failed");
    await stopServe(a);
  }, 60_000);

  test("a download taken over where its sidecar cannot be seen starts over, saying so", async () => {
    const store = await pg.createDatabase("unshared");
    const dir = await dirs.fresh();
    const b = await node("b", store, dir);
    const size = 256 * 1024;
    const url = origin.serve("/unshared/u.bin", { size, seed: 300 });
    const id = (await b.client.add({ url, output: "u.bin", startPaused: true })).download!.id;
    // As a node with its own (unshared) directory would leave it when it dies mid-download.
    const elsewhere = join(await dirs.fresh(), "u.bin");
    const db = new SQL({ url: store, max: 1 });
    await db`UPDATE dlm_downloads SET state = 'running', node = 'gone', path = ${elsewhere},
      bytes_downloaded = 4096, lease_until = now() - interval '1 second' WHERE id = ${Number(id)}`;
    await db.close();
    await watchUntil(b, finished(1), 20_000);
    expect(await fileSha(join(dir, "u.bin"))).toBe(sha256Of(size, 300));
    expect(b.stderr()).toContain("node gone stopped renewing its lease");
    expect(b.stderr()).toContain("starting over");
    await stopServe(b);
  }, 60_000);

  test("a node restarted under its name after kill -9 takes its downloads back at once, not after the lease", async () => {
    const store = await pg.createDatabase("restarted");
    const dir = await dirs.fresh();
    const home = await dirs.fresh();
    // The default lease (15 s): only the restart itself can explain a quick takeover.
    const args = ["--store", store, "--node", "r1"];
    const first = await startServe(home, dir, args);
    started.push(first);
    const size = 4 * 1024 * 1024;
    const url = origin.serve("/restarted/r.bin", { size, seed: 400, throttleBytesPerSec: 2 * 1024 * 1024 });
    const id = (await first.client.add({ url, output: "r.bin", connections: 1 })).download!.id;
    for (let i = 0; i < 100; i++) {
      if (((await first.client.get({ id })).download?.bytesDownloaded ?? 0n) > 256n * 1024n) break;
      await Bun.sleep(50);
    }
    first.child.kill("SIGKILL");
    await first.child.exited;
    const began = performance.now();
    const again = await startServe(home, dir, args);
    started.push(again);
    await watchUntil(again, finished(1), 10_000);
    expect(performance.now() - began).toBeLessThan(10_000);
    expect(await fileSha(join(dir, "r.bin"))).toBe(sha256Of(size, 400));
    expect((await claims(store)).get(Number(id))).toEqual(["r1", "r1"]);
    await stopServe(again);
  }, 60_000);

  test("a second node started under a running node's name refuses to start (exit REFUSED) and takes nothing over", async () => {
    const store = await pg.createDatabase("twin");
    const dir = await dirs.fresh();
    const first = await node("twin", store, dir);
    const size = 2 * 1024 * 1024;
    const url = origin.serve("/twin/t.bin", { size, seed: 500, throttleBytesPerSec: 1024 * 1024 });
    const id = (await first.client.add({ url, output: "t.bin", connections: 1 })).download!.id;
    for (let i = 0; i < 100; i++) {
      if (((await first.client.get({ id })).download?.bytesDownloaded ?? 0n) > 0n) break;
      await Bun.sleep(50);
    }
    const second = await runDlm(["serve", "--store", store, "--node", "twin", "--lease-timeout", "2"], {
      cwd: dir,
      env: { DLM_HOME: await dirs.fresh() },
    });
    expect(second.exitCode).toBe(EXIT.REFUSED);
    const lines = second.stderr.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(
      /^dlm: node twin is already running \(pid \d+ on .+\); stop it, or start this one with another --node/,
    );
    await watchUntil(first, finished(1), 20_000);
    expect(await fileSha(join(dir, "t.bin"))).toBe(sha256Of(size, 500));
    // Claimed once, by the first process: the refused one never reset it to queued.
    expect((await claims(store)).get(Number(id))).toEqual(["twin"]);
    await stopServe(first);
    // A clean stop gives the name back: the next process under it starts at once.
    const next = await node("twin", store, dir);
    await stopServe(next);
  }, 60_000);
});
