import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState } from "../../src/gen/dlm/v1/download_pb.ts";
import { bytesOf, sha256Hex, sha256Of } from "../helpers/bytes.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "./serve-fixture.ts";

const dirs = tempDirs("dlm-refresh-serve-");
let origin: Origin;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  serve?.child.kill("SIGKILL");
  await origin.close();
  await dirs.removeAll();
});

const MB = 1 << 20;

test("dlm serve: 12 MB through links valid 1.5 s at 4 x 1 MB/s finishes exact with <= 1.10x the bytes", async () => {
  const size = 12 * MB;
  origin.serve("/signed/served.bin", {
    size,
    seed: 12,
    throttleBytesPerSec: MB,
    requireUnexpired: true,
    cutAtExpiry: true,
  });
  const link = origin.serve("/served.bin", { size, redirectTo: "/signed/served.bin", signLinksForMs: 1500 });
  const dir = await dirs.fresh();
  serve = await startServe(await dirs.fresh(), dir);
  origin.resetStats();
  const added = await serve.client.add({ url: link, connections: 4 });
  const id = added.download?.id ?? 0n;
  // The queue's own feed says when it ends (bounded by the signal; the download takes about 3 s).
  const ended = new Set([DownloadState.FINISHED, DownloadState.FAILED]);
  const feed = serve.client.watchAll({ sinceSeq: 0n }, { signal: AbortSignal.timeout(60_000) });
  for await (const event of feed) {
    if (event.event.case !== "changed" && event.event.case !== "added") continue;
    if (event.event.value.id === id && ended.has(event.event.value.state)) break;
  }
  const { download } = await serve.client.get({ id });
  expect({ state: download?.state, failure: download?.failure?.message }).toEqual({
    state: DownloadState.FINISHED,
    failure: undefined,
  });
  expect(sha256Hex(new Uint8Array(await readFile(join(dir, "served.bin"))))).toBe(sha256Of(size, 12));
  expect(origin.stats.bytesServed).toBeLessThanOrEqual(size * 1.1);
  expect(origin.stats.requests.filter((r) => r.status === 403).length).toBeGreaterThanOrEqual(4);
  expect(await stopServe(serve)).toBe(EXIT.OK);
  serve = undefined;
}, 90_000);

test("dlm serve --refresh-cmd: the owner's command renews a link an API client added", async () => {
  const size = 4 * MB;
  origin.serve("/signed/owned.bin", {
    size,
    seed: 13,
    throttleBytesPerSec: MB,
    requireUnexpired: true,
    cutAtExpiry: true,
  });
  origin.serve("/owned.bin", { size, redirectTo: "/signed/owned.bin", signLinksForMs: 1000 });
  const home = await dirs.fresh();
  const script = join(home, "mint.sh");
  await writeFile(
    script,
    `#!/bin/sh\ncurl -s -o /dev/null -w '%{redirect_url}\\n' "${origin.url("/owned.bin")}"\n`,
  );
  await chmod(script, 0o755);
  const dir = await dirs.fresh();
  serve = await startServe(home, dir, ["--refresh-cmd", script]);
  // Added as the signed URL itself: only the command can renew it.
  const first = await fetch(origin.url("/owned.bin"), { redirect: "manual" });
  const signed = origin.url(first.headers.get("location") ?? "");
  const added = await serve.client.add({ url: signed, output: "owned.bin", connections: 2 });
  const id = added.download?.id ?? 0n;
  const ended = new Set([DownloadState.FINISHED, DownloadState.FAILED]);
  const feed = serve.client.watchAll({ sinceSeq: 0n }, { signal: AbortSignal.timeout(60_000) });
  for await (const event of feed) {
    if (event.event.case !== "changed" && event.event.case !== "added") continue;
    if (event.event.value.id === id && ended.has(event.event.value.state)) break;
  }
  const { download } = await serve.client.get({ id });
  expect(download?.state).toBe(DownloadState.FINISHED);
  expect(sha256Hex(new Uint8Array(await readFile(join(dir, "owned.bin"))))).toBe(sha256Of(size, 13));
  expect(await stopServe(serve)).toBe(EXIT.OK);
  serve = undefined;
}, 90_000);

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

/** Waits for the download's end through the queue's feed and returns it. */
async function ended(s: ServeProcess, id: bigint) {
  const done = new Set([DownloadState.FINISHED, DownloadState.FAILED]);
  const feed = s.client.watchAll({ sinceSeq: 0n }, { signal: AbortSignal.timeout(60_000) });
  for await (const event of feed) {
    // The snapshot comes first: the download may have ended before the feed opened.
    const views =
      event.event.case === "snapshot"
        ? event.event.value.downloads
        : event.event.case === "changed" || event.event.case === "added"
          ? [event.event.value]
          : [];
    if (views.some((d) => d.id === id && done.has(d.state))) break;
  }
  return (await s.client.get({ id })).download;
}

test("Add carries checksum_file and checksum auto; a tampered file fails as integrity", async () => {
  const size = 200_000;
  const good = new Bun.CryptoHasher("sha256").update(bytesOf(0, size - 1, 40)).digest("hex");
  origin.serve("/sums/good.iso", { size, seed: 40 });
  origin.serve("/sums/bad.iso", { size, seed: 41 });
  const list = origin.serve("/sums/SHA256SUMS", { size: 0, text: `${good}  good.iso\n${good}  bad.iso\n` });
  const dir = await dirs.fresh();
  const home = await dirs.fresh();
  serve = await startServe(home, dir);
  const a = await serve.client.add({ url: origin.url("/sums/good.iso"), checksumFile: list });
  const b = await serve.client.add({ url: origin.url("/sums/bad.iso"), checksumFile: list });
  const c = await serve.client.add({
    url: origin.url("/sums/good.iso"),
    output: "auto.iso",
    checksum: "auto",
  });
  expect((await ended(serve, a.download?.id ?? 0n))?.state).toBe(DownloadState.FINISHED);
  const bad = await ended(serve, b.download?.id ?? 0n);
  expect(bad?.state).toBe(DownloadState.FAILED);
  expect(bad?.failure?.message).toContain(`from ${list}`);
  expect(existsSync(join(dir, "bad.iso"))).toBe(false);
  expect((await ended(serve, c.download?.id ?? 0n))?.state).toBe(DownloadState.FINISHED);
  // The CLI client: dlm add --checksum-file URL.
  const cli = await runDlm(
    ["add", origin.url("/sums/bad.iso"), "-o", "cli.iso", "--checksum-file", list, "--json"],
    {
      cwd: dir,
      env: { DLM_HOME: home },
    },
  );
  expect(cli.exitCode).toBe(EXIT.OK);
  const cliId = BigInt((JSON.parse(cli.stdout.trim()) as { id: number }).id);
  expect((await ended(serve, cliId))?.failure?.message).toContain(`from ${list}`);
  // An API client names no local file, and no other scheme.
  const refused = await serve.client
    .add({ url: origin.url("/sums/good.iso"), checksumFile: "file:///etc/passwd" })
    .catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ConnectError);
  expect((refused as ConnectError).code).toBe(Code.InvalidArgument);
  expect(await stopServe(serve)).toBe(EXIT.OK);
  serve = undefined;
}, 90_000);

test("dlm update ID --url: the same file continues; another file is exit 7 unless --restart", async () => {
  const size = 6 * MB;
  const slow = { size, seed: 50, throttleBytesPerSec: 512 * 1024 };
  origin.serve("/upd/old.bin", slow);
  origin.serve("/upd/same.bin", { ...slow, throttleBytesPerSec: undefined });
  origin.serve("/upd/other.bin", { size, seed: 51, etag: false });
  const home = await dirs.fresh();
  const dir = await dirs.fresh();
  serve = await startServe(home, dir);
  const s = serve;
  const env = { DLM_HOME: home };
  const added = await s.client.add({ url: origin.url("/upd/old.bin"), output: "f.bin", connections: 1 });
  const id = added.download?.id ?? 0n;
  // Bytes fsynced and recorded (the first checkpoint) before the new URL is checked against them.
  await until("a checkpoint with bytes", async () =>
    existsSync(join(dir, "f.bin.dlm", "state.json")) &&
    ((await s.client.get({ id })).download?.bytesDownloaded ?? 0n) > 1_000_000n
      ? true
      : undefined,
  );
  const other = await runDlm(["update", String(id), "--url", origin.url("/upd/other.bin")], {
    cwd: dir,
    env,
  });
  expect({ exit: other.exitCode, stderr: other.stderr }).toEqual({
    exit: EXIT.REMOTE_CHANGED,
    stderr: expect.stringContaining("serves another file"),
  });
  expect((await s.client.get({ id })).download?.url).toBe(origin.url("/upd/old.bin"));
  const same = await runDlm(["update", String(id), "--url", origin.url("/upd/same.bin")], { cwd: dir, env });
  expect(same.exitCode).toBe(EXIT.OK);
  expect((await ended(s, id))?.state).toBe(DownloadState.FINISHED);
  expect(sha256Hex(new Uint8Array(await readFile(join(dir, "f.bin"))))).toBe(sha256Of(size, 50));

  // --restart takes the other file, from its first byte.
  const again = await s.client.add({ url: origin.url("/upd/old.bin"), output: "g.bin", connections: 1 });
  const id2 = again.download?.id ?? 0n;
  await until("a checkpoint with bytes", async () =>
    existsSync(join(dir, "g.bin.dlm", "state.json")) &&
    ((await s.client.get({ id: id2 })).download?.bytesDownloaded ?? 0n) > 1_000_000n
      ? true
      : undefined,
  );
  const restart = await runDlm(["update", String(id2), "--url", origin.url("/upd/other.bin"), "--restart"], {
    cwd: dir,
    env,
  });
  expect(restart.exitCode).toBe(EXIT.OK);
  expect((await ended(s, id2))?.state).toBe(DownloadState.FINISHED);
  expect(sha256Hex(new Uint8Array(await readFile(join(dir, "g.bin"))))).toBe(sha256Of(size, 51));
  expect(await stopServe(s)).toBe(EXIT.OK);
  serve = undefined;
}, 90_000);
