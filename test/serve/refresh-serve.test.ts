import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState } from "../../src/gen/dlm/v1/download_pb.ts";
import { sha256Hex, sha256Of } from "../helpers/bytes.ts";
import { tempDirs } from "../helpers/cli.ts";
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
