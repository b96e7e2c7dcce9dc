import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, readFile, realpath, stat, symlink } from "node:fs/promises";
import { connect } from "node:http2";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SAMPLE_BYTES } from "../../src/engine/refresh.ts";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadService, DownloadState, type WatchAllResponse } from "../../src/gen/dlm/v1/download_pb.ts";
import { curl, envelope, parseEnvelopes } from "../control/fixture.ts";
import { sha256Hex, sha256Of } from "../helpers/bytes.ts";
import { BUN_BIN, MAIN_TS, runDlm, tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "./serve-fixture.ts";

const dirs = tempDirs("dlm-serve-");
let origin: Origin;
const running: ServeProcess[] = [];

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  for (const serve of running) serve.child.kill("SIGKILL");
  await origin.close();
  await dirs.removeAll();
});

async function serveIn(args: readonly string[] = [], home?: string, dir?: string) {
  const h = home ?? (await dirs.fresh());
  const d = dir ?? (await dirs.fresh());
  const serve = await startServe(h, d, args);
  running.push(serve);
  return { serve, home: h, dir: d };
}

/** Polls `check` every 50 ms (bounded) until it returns a value. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** JSON.stringify replacer for messages (uint64 fields are bigints). */
function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? String(value) : value;
}

/** What the origin served and what the serve processes logged, printed when a bytes bound fails. */
function servedReport(...serves: readonly ServeProcess[]): string {
  const requests = origin.stats.requests.map((r) => `${r.method} ${r.path} ${r.range ?? "-"} ${r.status}`);
  return [`served ${origin.stats.bytesServed}`, ...requests, ...serves.map((s) => s.stderr())].join("\n");
}

/**
 * Bytes the sidecar of `output` vouches for (state.json's fsynced `done`): what a restart or a new URL
 * continues from. Progress (bytesDownloaded) runs ahead of it by up to a checkpoint interval.
 */
async function checkpointed(output: string): Promise<number> {
  return (await vouched(output)).reduce((sum, [first, last]) => sum + last - first + 1, 0);
}

/** The byte ranges [first, last] the sidecar of `output` vouches for (none before its first state.json). */
async function vouched(output: string): Promise<[number, number][]> {
  const text = await readFile(join(`${output}.dlm`, "state.json"), "utf8").catch(() => undefined);
  if (text === undefined) return [];
  const state = JSON.parse(text) as { segments: readonly { start: number; done: number }[] };
  return state.segments.filter((s) => s.done > 0).map((s) => [s.start, s.start + s.done - 1]);
}

/** Bytes of the ranges asked of `path` (as `bytes=a-b`) that fall in `kept`, in requests from index `since`. */
function askedAgain(path: string, kept: readonly [number, number][], since = 0): number {
  let bytes = 0;
  for (const request of origin.stats.requests.slice(since)) {
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.range ?? "");
    if (request.path !== path || range === null) continue;
    const first = Number(range[1]);
    const last = range[2] === "" ? Number.MAX_SAFE_INTEGER : Number(range[2]);
    for (const [a, b] of kept) bytes += Math.max(0, Math.min(last, b) - Math.max(first, a) + 1);
  }
  return bytes;
}

async function fileSha(path: string): Promise<string> {
  return sha256Hex(new Uint8Array(await readFile(path)));
}

/** Reads stored events (added/changed/removed) from a WatchAll stream until `stop` says so. */
async function collect(
  stream: AsyncIterable<WatchAllResponse>,
  stop: (events: WatchAllResponse[]) => boolean,
): Promise<WatchAllResponse[]> {
  const events: WatchAllResponse[] = [];
  for await (const message of stream) {
    events.push(message);
    if (stop(events)) break;
  }
  return events;
}

describe("dlm serve", () => {
  test("50 downloads added over connect-node HTTP/2 never run more than --max-active at once, and all arrive whole", async () => {
    const { serve, dir } = await serveIn(["--max-active", "3"]);
    const size = 96 * 1024;
    const abort = new AbortController();
    const watch = serve.client.watchAll({ sinceSeq: 0n }, { signal: abort.signal });
    const active = new Set<bigint>();
    let most = 0;
    const finished = new Set<bigint>();
    const watching = (async () => {
      for await (const message of watch) {
        const e = message.event;
        if (e.case !== "changed") continue;
        // A verifying download holds no slot (its bytes are in), so only RUNNING counts.
        if (e.value.state === DownloadState.RUNNING) active.add(e.value.id);
        else active.delete(e.value.id);
        if (e.value.state === DownloadState.FINISHED) finished.add(e.value.id);
        most = Math.max(most, active.size);
        if (finished.size === 50) break;
      }
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) throw error;
    });
    for (let i = 0; i < 50; i++) {
      const url = origin.serve(`/many/f${i}.bin`, { size, seed: 100 + i, throttleBytesPerSec: 512 * 1024 });
      // Default connections (8 each): the default budget must still let all three slots run.
      const { download, created } = await serve.client.add({ url, requestId: `many-${i}` });
      expect(created).toBe(true);
      expect(download?.state).toBe(DownloadState.QUEUED);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      watching,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${finished.size} of 50 finished`)), 50_000);
      }),
    ]);
    clearTimeout(timer);
    abort.abort();
    expect(most).toBe(3);
    const { downloads } = await serve.client.list({ states: [DownloadState.FINISHED] });
    expect(downloads.length).toBe(50);
    for (let i = 0; i < 50; i += 7)
      expect(await fileSha(join(dir, `f${i}.bin`))).toBe(sha256Of(size, 100 + i));
    const stats = await serve.client.stats({});
    expect(stats.counts).toEqual([expect.objectContaining({ state: DownloadState.FINISHED, count: 50n })]);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 90_000);

  test("Add with the same request_id twice makes one download; an output leaving --dir is INVALID_ARGUMENT", async () => {
    const { serve, dir } = await serveIn();
    const url = origin.serve("/idem.bin", { size: 1000 });
    const first = await serve.client.add({ url, requestId: "same", startPaused: true });
    const second = await serve.client.add({ url, requestId: "same", startPaused: true });
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.download?.id).toBe(first.download?.id ?? -1n);
    expect((await serve.client.list({})).downloads.length).toBe(1);

    // Update through a field mask changes only the fields it names; List filters by label and pages.
    const other = await serve.client.add({ url, output: "other.bin", labels: ["iso"], startPaused: true });
    const updated = await serve.client.update({
      id: other.download?.id ?? 0n,
      download: { priority: 7, connections: 3, url: "http://ignored.example/" },
      updateMask: { paths: ["priority", "connections"] },
    });
    expect(updated.download?.priority).toBe(7);
    expect(updated.download?.connections).toBe(3);
    expect(updated.download?.url).toBe(url);
    const badMask = await serve.client
      .update({ id: other.download?.id ?? 0n, updateMask: { paths: ["state"] } })
      .catch((e: unknown) => e);
    expect((badMask as ConnectError).code).toBe(Code.InvalidArgument);
    const byLabel = await serve.client.list({ labels: ["iso"] });
    expect(byLabel.downloads.map((d) => d.id)).toEqual([other.download?.id ?? 0n]);
    const page1 = await serve.client.list({ pageSize: 1 });
    // Priority 7 sorts first.
    expect(page1.downloads.map((d) => d.id)).toEqual([other.download?.id ?? 0n]);
    const page2 = await serve.client.list({ pageSize: 1, pageToken: page1.nextPageToken });
    expect(page2.downloads.map((d) => d.id)).toEqual([first.download?.id ?? 0n]);
    expect(page2.nextPageToken).toBe("");
    await serve.client.remove({ selector: { ids: [other.download?.id ?? 0n] } });

    const outside = await dirs.fresh();
    await symlink(outside, join(dir, "link"));
    for (const bad of [
      { output: "../escape.bin" },
      { output: "/etc/passwd" },
      { directory: "link" },
      { directory: "a/../../b" },
    ]) {
      const error = await serve.client.add({ url, ...bad }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    }
    expect((await serve.client.list({})).downloads.length).toBe(1);
    // A subdirectory inside --dir is fine.
    await serve.client.add({ url, directory: "sub", output: "in.bin" });
    await until("sub/in.bin", async () =>
      (await stat(join(dir, "sub", "in.bin")).catch(() => undefined)) ? true : undefined,
    );
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("CLI: dlm add -i (aria2 list), ls --json, pause ID, limit, resume ID, rm --delete-files; curl with Connect JSON", async () => {
    const { serve, home, dir } = await serveIn();
    const size = 3 * 1024 * 1024;
    // Slow enough (32 KiB/s a connection) that the pause below comes before the end on a loaded machine.
    const slow = origin.serve("/cli/slow.bin", { size, seed: 5, throttleBytesPerSec: 32 * 1024 });
    const quick = origin.serve("/cli/quick.bin", { size: 5000, seed: 6 });
    const listFile = join(dir, "list.txt");
    await Bun.write(listFile, `${slow}\n  out=renamed.bin\n${quick}\n  dir=q\n  split=4\n`);
    const env = { DLM_HOME: home };
    const added = await runDlm(["add", "-i", listFile, "--json"], { cwd: dir, env });
    expect(added.exitCode).toBe(EXIT.OK);
    expect(added.stderr).toContain("ignoring options dlm does not use: split");
    const ids = added.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { id: number }).id);
    expect(ids.length).toBe(2);
    const [slowId, quickId] = ids as [number, number];
    await until("quick finished", async () => {
      const { download } = await serve.client.get({ id: BigInt(quickId) });
      return download?.state === DownloadState.FINISHED ? true : undefined;
    });
    expect(await fileSha(join(dir, "q", "quick.bin"))).toBe(sha256Of(5000, 6));

    await until("slow has bytes", async () => {
      const { download } = await serve.client.get({ id: BigInt(slowId) });
      return (download?.bytesDownloaded ?? 0n) > 0n ? true : undefined;
    });
    const paused = await runDlm(["pause", `d${slowId}`], { cwd: dir, env });
    expect(paused.exitCode).toBe(EXIT.OK);
    expect(paused.stdout).toBe(`${slowId}\tpaused\n`);
    expect(await stat(join(dir, "renamed.bin.dlm", "state.json"))).toBeTruthy();
    const ls = await runDlm(["ls", "--json"], { cwd: dir, env });
    const rows = ls.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: string; state: string });
    expect(rows.map((r) => [r.id, r.state])).toEqual([
      [String(slowId), "DOWNLOAD_STATE_PAUSED"],
      [String(quickId), "DOWNLOAD_STATE_FINISHED"],
    ]);

    // curl over HTTP/1.1 with Connect JSON, as the README shows.
    const auth = `Authorization: Bearer ${serve.token}`;
    const listed = await curl([
      "-H",
      "Content-Type: application/json",
      "-H",
      auth,
      "--data",
      "{}",
      `${serve.http}/dlm.v1.DownloadService/List`,
    ]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { downloads: unknown[] }).downloads.length).toBe(2);
    const denied = await curl([
      "-H",
      "Content-Type: application/json",
      "--data",
      "{}",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${serve.http}/dlm.v1.DownloadService/List`,
    ]);
    expect(denied.stdout).toBe("401");

    const limited = await runDlm(["limit", String(slowId), "256K"], { cwd: dir, env });
    expect(limited.stdout).toBe(`${slowId}\t256 KiB/s\n`);
    expect((await serve.client.get({ id: BigInt(slowId) })).download?.speedLimit).toBe(256n * 1024n);
    await runDlm(["limit", String(slowId), "0"], { cwd: dir, env });
    const global = await runDlm(["limit", "2M"], { cwd: dir, env });
    expect(global.stdout).toBe("all\t2.00 MiB/s\n");
    expect((await serve.client.stats({})).globalSpeedLimit).toBe(2n << 20n);
    await runDlm(["limit", "0"], { cwd: dir, env });
    expect((await serve.client.stats({})).globalSpeedLimit).toBe(0n);
    origin.update("/cli/slow.bin", { throttleBytesPerSec: undefined });
    const resumed = await runDlm(["resume", String(slowId)], { cwd: dir, env });
    expect(resumed.exitCode).toBe(EXIT.OK);
    await until("slow finished", async () => {
      const { download } = await serve.client.get({ id: BigInt(slowId) });
      return download?.state === DownloadState.FINISHED ? true : undefined;
    });
    expect(await fileSha(join(dir, "renamed.bin"))).toBe(sha256Of(size, 5));

    const removed = await runDlm(["rm", String(quickId), "--delete-files"], { cwd: dir, env });
    expect(removed.stdout).toBe(`${quickId}\tremoved\n`);
    expect(await stat(join(dir, "q", "quick.bin")).catch(() => undefined)).toBeUndefined();
    const info = await runDlm(["info", String(quickId)], { cwd: dir, env });
    expect(info.exitCode).toBe(EXIT.USAGE);
    expect(await stopServe(serve)).toBe(EXIT.OK);
    const none = await runDlm(["ls"], { cwd: dir, env });
    expect(none.exitCode).toBe(EXIT.NO_SERVER);
    expect(none.stderr).toContain("start one with: dlm serve");
    // README says the same code.
    const readme = await readFile(join(import.meta.dir, "../../README.md"), "utf8");
    expect(/start one with: dlm serve` and exit (\d+)/.exec(readme)?.[1]).toBe(String(EXIT.NO_SERVER));
  }, 90_000);

  test("an expired link renewed with Update (curl, Connect JSON, field mask url) keeps the bytes already fetched", async () => {
    const { serve, dir } = await serveIn();
    const file = { size: 8 * 1024 * 1024, seed: 31, throttleBytesPerSec: 512 * 1024 };
    const signed = origin.serve("/renew/signed-1.bin", file);
    const fresh = origin.serve("/renew/signed-2.bin", { ...file, throttleBytesPerSec: undefined });
    origin.resetStats();
    const added = await serve.client.add({ url: signed, output: "weights.bin" });
    const id = added.download?.id ?? 0n;
    // 2 MiB vouched for by the sidecar: starting over would ask the new URL for them again.
    await until("2 MiB checkpointed", async () =>
      (await checkpointed(join(dir, "weights.bin"))) >= 2 << 20 ? true : undefined,
    );
    // What the new URL must not be asked for again (the sidecar keeps it; it only grows from here).
    const kept = await vouched(join(dir, "weights.bin"));
    // The link expires: the server now refuses it.
    origin.update("/renew/signed-1.bin", { status: 403 });
    const renewed = await curl([
      "-H",
      "Content-Type: application/json",
      "-H",
      `Authorization: Bearer ${serve.token}`,
      "--data",
      JSON.stringify({ id: String(id), download: { url: fresh }, updateMask: "url" }),
      `${serve.http}/dlm.v1.DownloadService/Update`,
    ]);
    expect(renewed.code).toBe(0);
    if (!renewed.stdout.includes('"download"')) console.error(serve.stderr());
    // The whole body on failure: an error answer says which.
    expect(JSON.parse(renewed.stdout)).toMatchObject({ download: { url: fresh } });
    await until("finished", async () => {
      const { download } = await serve.client.get({ id });
      return download?.state === DownloadState.FINISHED ? true : undefined;
    });
    expect(await fileSha(join(dir, "weights.bin"))).toBe(sha256Of(file.size, 31));
    // Continued, not started over (which would ask the new URL for the >= 2 MiB kept again): of the bytes
    // kept, only the same-file check's sample and the 1-byte probes are asked of it. (Not a count of bytes
    // served: on a loaded machine the engine's steals re-request unthrottled ranges whose first answers were
    // already sent, which says nothing about what was kept.)
    const again = askedAgain("/renew/signed-2.bin", kept);
    if (again > SAMPLE_BYTES + 2) console.error(servedReport(serve));
    expect(again).toBeLessThanOrEqual(SAMPLE_BYTES + 2);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("kill -9 mid-download, then dlm serve again: it goes on from the sidecar, one download, right SHA-256, ≤1.1x bytes", async () => {
    const home = await dirs.fresh();
    const dir = await dirs.fresh();
    const size = 8 * 1024 * 1024;
    const url = origin.serve("/kill/big.bin", { size, seed: 9, throttleBytesPerSec: 512 * 1024 });
    origin.resetStats();
    const first = (await serveIn([], home, dir)).serve;
    const { download } = await first.client.add({ url, connections: 1, requestId: "big" });
    const id = download?.id ?? 0n;
    // 1.5 MiB vouched for by the sidecar (progress runs ahead of it): starting over would serve them again.
    await until("1.5 MiB checkpointed", async () =>
      (await checkpointed(join(dir, "big.bin"))) >= 1536 * 1024 ? true : undefined,
    );
    first.child.kill("SIGKILL");
    await first.child.exited;
    const kept = await vouched(join(dir, "big.bin"));
    const restartedAt = origin.stats.requests.length;
    origin.update("/kill/big.bin", { throttleBytesPerSec: undefined });
    const second = (await serveIn([], home, dir)).serve;
    const done = await until("finished after restart", async () => {
      const got = await second.client.get({ id });
      return got.download?.state === DownloadState.FINISHED ? got.download : undefined;
    });
    expect(done.sha256).toBe(sha256Of(size, 9));
    expect(await fileSha(join(dir, "big.bin"))).toBe(sha256Of(size, 9));
    expect((await second.client.list({})).downloads.length).toBe(1);
    // Of the bytes kept, the restart asks only the probe's 1 byte again.
    expect(askedAgain("/kill/big.bin", kept, restartedAt)).toBeLessThanOrEqual(1);
    // This path only: a download another test left running shares the origin's counters.
    const served = origin.stats.bytesByPath.get("/kill/big.bin") ?? 0;
    if (served > size * 1.1) console.error(servedReport(first, second));
    expect(served).toBeLessThanOrEqual(size * 1.1);
    // The same request_id after the restart still finds it.
    expect((await second.client.add({ url, requestId: "big" })).created).toBe(false);
    expect(await stopServe(second)).toBe(EXIT.OK);
  }, 90_000);

  test("WatchAll: a watcher that reconnects with its last seq gets every stored event it missed, none twice", async () => {
    const { serve } = await serveIn();
    const url = origin.serve("/watch.bin", { size: 2000 });
    const firstWatch = serve.client.watchAll({ sinceSeq: 0n })[Symbol.asyncIterator]();
    // The snapshot first, then the Add: an Add committed before the snapshot is in it (its "added" event is
    // rightly not sent again), and waiting for that event would wait forever.
    const snapshot = await firstWatch.next();
    expect(snapshot.value?.event.case).toBe("snapshot");
    await serve.client.add({ url, output: "w0.bin", startPaused: true });
    const before = [snapshot.value as WatchAllResponse];
    while (!before.some((e) => e.event.case === "added")) {
      const next = await firstWatch.next();
      if (next.done === true) break;
      before.push(next.value);
    }
    await firstWatch.return?.();
    const last = before.at(-1)?.seq ?? 0n;
    // While nobody watches: three adds, a resume, a removal.
    const ids: bigint[] = [];
    for (let i = 1; i <= 3; i++) {
      ids.push((await serve.client.add({ url, output: `w${i}.bin`, startPaused: true })).download?.id ?? 0n);
    }
    await serve.client.remove({ selector: { ids: [ids[0] ?? 0n] } });
    await serve.client.pause({ selector: { all: true } });
    // The head seq, from a fresh watcher's snapshot.
    const head = (await collect(serve.client.watchAll({ sinceSeq: 0n }), () => true))[0]?.seq ?? 0n;
    expect(head).toBeGreaterThan(last + 3n);
    const replay = await collect(
      serve.client.watchAll({ sinceSeq: last }),
      (events) => (events.at(-1)?.seq ?? 0n) >= head,
    );
    const stored = replay.filter((e) => ["added", "changed", "removed"].includes(e.event.case ?? ""));
    expect(stored.map((e) => e.seq)).toEqual(
      Array.from({ length: Number(head - last) }, (_, i) => last + 1n + BigInt(i)),
    );
    expect(stored.filter((e) => e.event.case === "added").length).toBe(3);
    expect(stored.find((e) => e.event.case === "removed")?.event.value).toBe(ids[0] ?? -1n);
    const future = await collect(serve.client.watchAll({ sinceSeq: head + 100n }), () => true).catch(
      (e: unknown) => e,
    );
    expect((future as ConnectError).code).toBe(Code.OutOfRange);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("a grpc-js client (Node) adds idempotently, lists and watches over h2c", async () => {
    const { serve } = await serveIn();
    const url = origin.serve("/grpc.bin", { size: 1000 });
    const child = Bun.spawn(
      ["node", join(import.meta.dir, "grpc-download.mjs"), new URL(serve.rpc).host, serve.token, url],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [stdout, stderr] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    const result = JSON.parse(stdout || `{"stderr": ${JSON.stringify(stderr)}}`) as Record<string, unknown>;
    expect(result).toEqual({
      first: { id: "1", created: true, state: "DOWNLOAD_STATE_PAUSED" },
      second: { id: "1", created: false },
      listed: ["1"],
      watch: { event: "snapshot", seq: "1", count: 1 },
    });
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("dlm watch without FILE follows every download of dlm serve: a line per change, Ctrl+C exits 0", async () => {
    const { serve, home, dir } = await serveIn();
    const env: Record<string, string | undefined> = { ...process.env, DLM_HOME: home };
    delete env["DLM_LOG"];
    const url = origin.serve("/watched.bin", { size: 4000 });
    // A paused download first: its line in the snapshot shows the stream is open.
    const parked =
      (await serve.client.add({ url, output: "parked.bin", startPaused: true })).download?.id ?? 0n;
    const child = Bun.spawn([BUN_BIN, MAIN_TS, "watch"], {
      cwd: dir,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    const readUntil = async (pattern: RegExp) => {
      const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
      while (!pattern.test(out)) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      clearTimeout(deadline);
      expect(out).toMatch(pattern);
    };
    await readUntil(new RegExp(`${parked}\\tpaused\\t`));
    const id = (await serve.client.add({ url })).download?.id ?? 0n;
    await readUntil(new RegExp(`${id}\tfinished\t`));
    expect(out).toMatch(new RegExp(`${id}\tqueued\t`));
    child.kill("SIGINT");
    expect(await child.exited).toBe(EXIT.OK);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("SIGTERM pauses running downloads and leaves them queued; the next dlm serve finishes them", async () => {
    const home = await dirs.fresh();
    const dir = await dirs.fresh();
    const size = 4 << 20;
    const url = origin.serve("/term/t.bin", { size, seed: 12, throttleBytesPerSec: 1 << 20 });
    const first = (await serveIn([], home, dir)).serve;
    const id = (await first.client.add({ url, connections: 2 })).download?.id ?? 0n;
    await until("bytes on disk", async () => {
      const got = await first.client.get({ id });
      return (got.download?.bytesDownloaded ?? 0n) > 0n ? true : undefined;
    });
    expect(await stopServe(first)).toBe(EXIT.OK);
    expect(await stat(join(dir, "t.bin.dlm", "state.json"))).toBeTruthy();
    origin.update("/term/t.bin", { throttleBytesPerSec: undefined });
    const second = (await serveIn([], home, dir)).serve;
    const done = await until("finished", async () => {
      const got = await second.client.get({ id });
      return got.download?.state === DownloadState.FINISHED ? got.download : undefined;
    });
    expect(done.sha256).toBe(sha256Of(size, 12));
    expect(await stopServe(second)).toBe(EXIT.OK);
  }, 60_000);

  test("--on-complete runs the program (no shell) with the download's id, file, SHA-256 and state", async () => {
    const dir = await dirs.fresh();
    const hook = join(dir, "hook.sh");
    const record = join(dir, "hook.out");
    await Bun.write(hook, `#!/bin/sh\necho "$DLM_ID $DLM_STATE $DLM_SHA256 $DLM_FILE" >> ${record}\n`);
    await chmod(hook, 0o755);
    const { serve } = await serveIn(["--on-complete", hook], undefined, dir);
    const url = origin.serve("/hooked.bin", { size: 3000, seed: 21 });
    const id = (await serve.client.add({ url })).download?.id ?? 0n;
    const line = await until("the hook ran", async () => {
      const text = await Bun.file(record)
        .text()
        .catch(() => "");
      return text.includes("\n") ? text.trim() : undefined;
    });
    expect(line).toBe(`${id} finished ${sha256Of(3000, 21)} ${join(await realpath(dir), "hooked.bin")}`);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("WatchAll over the HTTP/1.1 listener (Connect, as browsers use it) sends the snapshot and live events", async () => {
    const { serve } = await serveIn();
    const auth: Interceptor = (next) => (request) => {
      request.header.set("authorization", `Bearer ${serve.token}`);
      return next(request);
    };
    const http1 = createClient(
      DownloadService,
      createConnectTransport({ baseUrl: serve.http, httpVersion: "1.1", interceptors: [auth] }),
    );
    const url = origin.serve("/h1.bin", { size: 1000 });
    await serve.client.add({ url, startPaused: true, output: "before.bin" });
    const stream = http1.watchAll({ sinceSeq: 0n })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.event.case).toBe("snapshot");
    expect(first.value?.event.case === "snapshot" && first.value.event.value.downloads.length).toBe(1);
    const { download } = await serve.client.add({ url, startPaused: true, output: "after.bin" });
    let added: bigint | undefined;
    while (added === undefined) {
      const next = await stream.next();
      if (next.done === true) break;
      if (next.value.event.case === "added") added = next.value.event.value.id;
    }
    expect(added).toBe(download?.id ?? -1n);
    await stream.return?.();
    // Without the token both listeners say where dlm serve keeps it (not a download's control.json).
    for (const [base, h2] of [
      [serve.http, false],
      [serve.rpc, true],
    ] as const) {
      const refused = await curl([
        ...(h2 ? ["--http2-prior-knowledge"] : []),
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        "{}",
        `${base}/dlm.v1.DownloadService/Stats`,
      ]);
      expect(refused.stdout).toContain("serve.json");
      expect(refused.stdout).not.toContain("control.json");
    }
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("credential headers never come back: Add, Get, List, WatchAll, dlm info, dlm ls --json, curl, the log", async () => {
    const { serve, home, dir } = await serveIn();
    const env = { DLM_HOME: home };
    const url = origin.serve("/secret.bin", { size: 1000 });
    const watch = serve.client.watchAll({ sinceSeq: 0n })[Symbol.asyncIterator]();
    const outputs: string[] = [];
    const snapshot = await watch.next();
    outputs.push(JSON.stringify(snapshot.value, bigints));
    const added = await runDlm(
      [
        "add",
        url,
        "--paused",
        "--json",
        "-H",
        "Authorization: Bearer SECRETA1",
        "-H",
        "Cookie: sid=SECRETB2",
      ],
      { cwd: dir, env },
    );
    expect(added.exitCode).toBe(EXIT.OK);
    const id = (JSON.parse(added.stdout.trim()) as { id: number }).id;
    outputs.push(added.stdout, added.stderr);
    const viaApi = await serve.client.add({
      url,
      output: "api.bin",
      startPaused: true,
      headers: [{ name: "authorization", value: "Basic SECRETC3" }],
    });
    outputs.push(JSON.stringify(viaApi, bigints));
    const event = await watch.next();
    outputs.push(JSON.stringify(event.value, bigints));
    await watch.return?.();
    outputs.push(JSON.stringify(await serve.client.get({ id: BigInt(id) }), bigints));
    outputs.push(JSON.stringify(await serve.client.list({}), bigints));
    const replay = await collect(serve.client.watchAll({ sinceSeq: 1n }), (events) => events.length >= 1);
    outputs.push(JSON.stringify(replay, bigints));
    for (const args of [["info", String(id)], ["info", String(id), "--json"], ["ls", "--json"], ["ls"]]) {
      const run = await runDlm(args, { cwd: dir, env });
      expect(run.exitCode).toBe(EXIT.OK);
      outputs.push(run.stdout, run.stderr);
    }
    const listed = await curl([
      "-X",
      "POST",
      "-H",
      `authorization: Bearer ${serve.token}`,
      "-H",
      "content-type: application/json",
      "-d",
      "{}",
      `${serve.http}/dlm.v1.DownloadService/List`,
    ]);
    outputs.push(listed.stdout);
    expect(await stopServe(serve)).toBe(EXIT.OK);
    outputs.push(serve.stderr());
    const all = outputs.join("\n");
    expect(all).toContain("Authorization");
    expect(all).toContain("set");
    for (const secret of ["SECRETA1", "SECRETB2", "SECRETC3"]) expect(all).not.toContain(secret);
  }, 60_000);

  test("WatchAll: a client that stops reading is ended with RESOURCE_EXHAUSTED and resumes from its since_seq", async () => {
    const { serve } = await serveIn();
    const url = origin.serve("/slow-reader.bin", { size: 1000 });
    const session = connect(serve.rpc);
    session.on("error", () => undefined);
    const stream = session.request({
      ":method": "POST",
      ":path": "/dlm.v1.DownloadService/WatchAll",
      "content-type": "application/connect+json",
      authorization: `Bearer ${serve.token}`,
    });
    stream.end(envelope({}));
    const chunks: Buffer[] = [];
    let ended = false;
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      ended = true;
    });
    await new Promise((resolve) => stream.once("response", resolve));
    // The snapshot arrives; then the client stops reading (HTTP/2 flow control holds the daemon's writes).
    await until("the snapshot", async () => (chunks.length > 0 ? true : undefined));
    stream.pause();
    // About 6 MiB of events while it does not read: more than the 4 MiB a watcher may owe (30 KiB each: the
    // manager takes at most 32 KiB of headers per download).
    const pad = "p".repeat(30 * 1024);
    let last = 0n;
    for (let i = 0; i < 200; i++) {
      const { download } = await serve.client.add({
        url,
        output: `slow${i}.bin`,
        startPaused: true,
        headers: [{ name: "X-Pad", value: pad }],
      });
      last = download?.id ?? 0n;
    }
    stream.resume();
    await until("the stream to end", async () => (ended ? true : undefined));
    session.close();
    const envelopes = parseEnvelopes(new Uint8Array(Buffer.concat(chunks)));
    const trailer = envelopes.at(-1)?.json as { error?: { code?: string; message?: string } };
    expect(envelopes.at(-1)?.end).toBe(true);
    expect(trailer.error?.code).toBe("resource_exhausted");
    const since = BigInt(/since_seq (\d+)/.exec(trailer.error?.message ?? "")?.[1] ?? "-1");
    const got = envelopes.slice(0, -1).map((e) => e.json as { seq?: string });
    // It got fewer than all 100 before the end, and what it got ends at since_seq.
    expect(got.length).toBeLessThan(101);
    expect(BigInt(got.at(-1)?.seq ?? "0")).toBe(since);
    const head = (await collect(serve.client.watchAll({ sinceSeq: 0n }), () => true))[0]?.seq ?? 0n;
    const resumed = await collect(
      serve.client.watchAll({ sinceSeq: since }),
      (e) => (e.at(-1)?.seq ?? 0n) >= head,
    );
    const addedIds = resumed.flatMap((e) => (e.event.case === "added" ? [e.event.value.id] : []));
    expect(resumed.map((e) => e.seq)).toEqual(
      Array.from({ length: Number(head - since) }, (_, i) => since + 1n + BigInt(i)),
    );
    expect(addedIds.at(-1)).toBe(last);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 90_000);

  test("numbers above 2^53-1 and non-http URLs are INVALID_ARGUMENT naming the field (Add, Update, SetGlobalLimit)", async () => {
    const { serve } = await serveIn();
    const url = origin.serve("/numbers.bin", { size: 1000 });
    const huge = 2n ** 64n - 1n;
    const refused = async (call: () => Promise<unknown>) =>
      call().then(
        () => "accepted",
        (e: unknown) => `${ConnectError.from(e).code} ${ConnectError.from(e).rawMessage}`,
      );
    const invalid = `${Code.InvalidArgument}`;
    expect(await refused(() => serve.client.add({ url, speedLimit: huge, startPaused: true }))).toBe(
      `${invalid} speed_limit: expected at most 9007199254740991, got ${huge}`,
    );
    const { download } = await serve.client.add({ url, startPaused: true });
    const id = download?.id ?? 0n;
    expect(
      await refused(() =>
        serve.client.update({ id, download: { position: huge }, updateMask: { paths: ["position"] } }),
      ),
    ).toBe(`${invalid} position: expected at most 9007199254740991, got ${huge}`);
    expect(
      await refused(() =>
        serve.client.update({
          id,
          download: { speedLimit: 2n ** 53n },
          updateMask: { paths: ["speed_limit"] },
        }),
      ),
    ).toStartWith(`${invalid} speed_limit:`);
    expect(await refused(() => serve.client.setGlobalLimit({ speedLimit: huge }))).toStartWith(
      `${invalid} speed_limit:`,
    );
    // Update of url takes http and https only, like Add (Bun's fetch would read these).
    for (const bad of ["file:///etc/passwd", "data:text/plain,hi"]) {
      expect(
        await refused(() =>
          serve.client.update({ id, download: { url: bad }, updateMask: { paths: ["url"] } }),
        ),
      ).toBe(`${invalid} url: expected an http:// or https:// URL, got ${JSON.stringify(bad)}`);
    }
    // The largest exact number is accepted, and every reader still works. (A position that large is a move
    // to the end of the queue: positions stay 1..N.)
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    await serve.client.update({ id, download: { speedLimit: max }, updateMask: { paths: ["speed_limit"] } });
    expect((await serve.client.list({})).downloads.map((d) => d.speedLimit)).toEqual([max]);
    await serve.client.update({ id, download: { position: max }, updateMask: { paths: ["position"] } });
    expect((await serve.client.list({})).downloads.map((d) => d.position)).toEqual([1n]);
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);

  test("an output that already exists fails the download with what a queue client can do (not --force)", async () => {
    const { serve, dir } = await serveIn();
    await Bun.write(join(dir, "taken.bin"), "already here");
    const url = origin.serve("/taken.bin", { size: 1000 });
    const { download } = await serve.client.add({ url, output: "taken.bin" });
    const failed = await until("the download to fail", async () => {
      const got = (await serve.client.get({ id: download?.id ?? 0n })).download;
      return got?.state === DownloadState.FAILED ? got : undefined;
    });
    expect(failed.failure?.kind).toBe("output_exists");
    expect(failed.failure?.message).not.toContain("--force");
    expect(failed.failure?.message).toContain("dlm add -o NAME");
    expect(await readFile(join(dir, "taken.bin"), "utf8")).toBe("already here");
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);
});
