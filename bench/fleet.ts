// `bun bench/fleet.ts`: measures dlm serve nodes sharing one PostgreSQL queue (issue 16):
// - claim latency: from a download's "added" event to the event of the node that claims it, when the node
//   it was added on is full and another one is idle (so the claim travels through LISTEN/NOTIFY), and
//   when the node it was added on is idle itself;
// - database load: statements per second (from the server's statement log) of idle nodes, and per active
//   download with 7 downloads running on 3 nodes.
// It starts its own throwaway PostgreSQL cluster (test/helpers/postgres.ts) and origin on 127.0.0.1.
import { SQL } from "bun";
import { tempDirs } from "../test/helpers/cli.ts";
import { startOrigin } from "../test/helpers/origin.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { type ServeProcess, startServe, stopServe } from "../test/serve/serve-fixture.ts";

const dirs = tempDirs("dlm-fleet-bench-");
const pg = await startPostgres();
const origin = await startOrigin();
const nodes: ServeProcess[] = [];
const url = await pg.createDatabase("fleet");
const dir = await dirs.fresh();
const db = new SQL({ url, max: 1 });

async function node(name: string, maxActive: number): Promise<ServeProcess> {
  const serve = await startServe(await dirs.fresh(), dir, [
    "--store",
    url,
    "--node",
    name,
    "--max-active",
    String(maxActive),
  ]);
  nodes.push(serve);
  return serve;
}

/** Waits (bounded) until `check` is true, polling every 100 ms. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** ms from the "added" event of `id` to the first event that has it running, and the claiming node. */
async function claimLatency(id: bigint): Promise<{ ms: number; node: string }> {
  const rows: { kind: string; state: string; node: string | null; at: string }[] = await db`SELECT kind,
      payload::jsonb->>'state' AS state, payload::jsonb->>'node' AS node, at
    FROM dlm_events WHERE download_id = ${Number(id)} ORDER BY seq`;
  const added = rows.find((r) => r.kind === "added");
  const claimed = rows.find((r) => r.state === "running");
  if (added === undefined || claimed === undefined) throw new Error(`download ${id}: no claim stored`);
  return { ms: Number(claimed.at) - Number(added.at), node: claimed.node ?? "" };
}

/**
 * Statements per second the nodes send over `seconds`, by kind: the server logs every statement
 * (log_statement = all) for the window, and BEGIN/COMMIT and this script's own statements are left out.
 */
async function load(seconds: number): Promise<{ perSecond: number; top: string }> {
  const from = Bun.file(pg.logFile).size;
  await db`ALTER SYSTEM SET log_statement = 'all'`;
  await db`SELECT pg_reload_conf()`;
  await Bun.sleep(seconds * 1000);
  await db`ALTER SYSTEM SET log_statement = 'none'`;
  await db`SELECT pg_reload_conf()`;
  const text = await Bun.file(pg.logFile).slice(from).text();
  const kinds = new Map<string, number>();
  for (const line of text.split("\n")) {
    const statement = /LOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line)?.[1]?.trim();
    if (statement === undefined || /^(BEGIN|COMMIT|ALTER SYSTEM|SELECT pg_reload_conf)/.test(statement))
      continue;
    const kind = statement.replace(/\s+/g, " ").slice(0, 48);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const total = [...kinds.values()].reduce((sum, n) => sum + n, 0);
  const top = [...kinds]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([kind, n]) => `${(n / seconds).toFixed(1)}/s ${kind}`)
    .join("; ");
  return { perSecond: total / seconds, top };
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return `median ${median} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms (n=${sorted.length})`;
}

try {
  // "full" starts alone, so the slow download that fills its one slot is its own.
  const full = await node("full", 1);
  const slow = origin.serve("/slow.bin", { size: 256 * 1024 * 1024, throttleBytesPerSec: 256 * 1024 });
  await full.client.add({ url: slow, output: "slow.bin", connections: 1 });
  await until("the slow download to run on 'full'", async () =>
    (await full.client.list({})).downloads.some((d) => d.node === "full"),
  );
  const idle = await node("idle", 3);
  const remote: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < 15; i++) {
    // Added on the full node: the idle one claims it after a notification.
    const small = origin.serve(`/small${i}.bin`, { size: 4096, seed: i + 1 });
    const { download } = await full.client.add({ url: small, output: `small${i}.bin` });
    const id = download?.id ?? 0n;
    await until(
      `download ${id} to finish`,
      async () => (await idle.client.get({ id })).download?.state === 6,
    );
    const claim = await claimLatency(id);
    if (claim.node !== "idle") throw new Error(`download ${id} was claimed by ${claim.node}`);
    remote.push(claim.ms);
    // Added on the idle node itself: it claims it while planning after the Add.
    const own = origin.serve(`/own${i}.bin`, { size: 4096, seed: i + 100 });
    const added = await idle.client.add({ url: own, output: `own${i}.bin` });
    const ownId = added.download?.id ?? 0n;
    await until(
      `download ${ownId} to finish`,
      async () => (await idle.client.get({ id: ownId })).download?.state === 6,
    );
    local.push((await claimLatency(ownId)).ms);
  }
  console.log(`claim latency, added on a full node, claimed by an idle one: ${summary(remote)}`);
  console.log(`claim latency, added on an idle node:                      ${summary(local)}`);

  await full.client.pause({ selector: { all: true } });
  await node("third", 3);
  const idleLoad = await load(10);
  console.log(`idle: ${idleLoad.perSecond.toFixed(1)} statements/s for 3 nodes (${idleLoad.top})`);

  // Three nodes at --max-active 3 (full runs 1): 7 downloads, each paced so they stay running.
  for (let i = 0; i < 7; i++) {
    const path = origin.serve(`/busy${i}.bin`, { size: 512 * 1024 * 1024, throttleBytesPerSec: 256 * 1024 });
    await nodes[i % 3]?.client.add({ url: path, output: `busy${i}.bin`, connections: 2 });
  }
  await until("7 downloads to run", async () => {
    const running = (await idle.client.list({})).downloads.filter((d) => d.state === 2);
    return running.length === 7;
  });
  const busyLoad = await load(10);
  console.log(
    `7 active downloads on 3 nodes: ${busyLoad.perSecond.toFixed(1)} statements/s, ` +
      `${((busyLoad.perSecond - idleLoad.perSecond) / 7).toFixed(2)} per active download above the idle nodes' ` +
      `(${busyLoad.top})`,
  );
} catch (error) {
  for (const serve of nodes) console.error(serve.stderr());
  throw error;
} finally {
  await Promise.all(nodes.map((serve) => stopServe(serve)));
  await db.close();
  await origin.close();
  await pg.stop();
  await dirs.removeAll();
}
