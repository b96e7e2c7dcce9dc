// aria2.js (the npm `aria2` package frontends are built on) against dlm serve --aria2-rpc, over WebSocket and
// over HTTP; one manager behind every door (aria2, DownloadService, dlm ls); GIDs that survive a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import Aria2 from "aria2";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState } from "../../src/gen/dlm/v1/download_pb.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { runDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, stopServe } from "../serve/serve-fixture.ts";
import { type Aria2Place, aria2Place, endAria2Serve, startAria2Serve } from "./aria2-serve.ts";

const SECRET = "aria2js-secret";
const SIZE = 700_000;

let origin: Origin;
let place: Aria2Place | undefined;
let home: string;
let dir: string;
let serve: ServeProcess;

/**
 * Bun's fetch, with the body's JSON handed over on a later task, as browsers and Node do. aria2.js's HTTP
 * path registers an answer's promise only after `fetch` resolves and starts `response.json()` before that;
 * Bun settles `json()` of a small buffered body within the same microtask run, so the answer would arrive
 * before anyone waits for it and be dropped (Bun maps node-fetch to its own fetch, so that is no way out).
 */
async function taskFetch(input: string, init?: RequestInit): Promise<{ json(): Promise<unknown> }> {
  const response = await fetch(input, init);
  const text = await response.text();
  return { json: () => new Promise((resolve) => setTimeout(() => resolve(JSON.parse(text)), 0)) };
}

/** aria2.js over `server`'s aria2 URL. */
function clientOf(server: ServeProcess, secret = SECRET): Aria2 {
  const url = new URL(server.aria2 ?? "");
  return new Aria2({
    host: url.hostname,
    port: Number(url.port),
    secret,
    path: url.pathname,
    fetch: taskFetch,
  });
}

/** Resolves with the first `event` notification for `gid` (bounded by 20 s). */
function notified(client: Aria2, event: string, gid: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} for ${gid()}`)), 20_000);
    const listener = (params: [{ gid: string }]) => {
      if (params[0].gid !== gid()) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve();
    };
    client.on(event, listener);
  });
}

async function start(): Promise<ServeProcess> {
  if (place === undefined) throw new Error("no place yet");
  return startAria2Serve(place, SECRET);
}

beforeAll(async () => {
  origin = await startOrigin();
  origin.serve("/file.bin", { size: SIZE });
  origin.serve("/other.bin", { size: SIZE, seed: 7 });
  place = await aria2Place("dlm-aria2js-");
  ({ home, dir } = place);
  serve = await start();
}, 30_000);

afterAll(() => endAria2Serve(serve, origin, place));

describe("aria2.js over WebSocket", () => {
  test("addUri downloads the file, notifies start and completion, and reports it complete", async () => {
    const client = clientOf(serve);
    await client.open();
    try {
      let gid = "";
      const started = notified(client, "onDownloadStart", () => gid);
      const completed = notified(client, "onDownloadComplete", () => gid);
      gid = String(await client.call("addUri", [origin.url("/file.bin")], { out: "ws.bin", split: "2" }));
      expect(gid).toMatch(/^[0-9a-f]{16}$/);
      await started;
      await completed;
      const status = (await client.call("tellStatus", gid)) as Record<string, unknown>;
      expect(status["status"]).toBe("complete");
      expect(status["completedLength"]).toBe(String(SIZE));
      expect(status["totalLength"]).toBe(String(SIZE));
      const bytes = await readFile(join(dir, "ws.bin"));
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(sha256Of(SIZE));
      expect(await client.listNotifications()).toContain("onDownloadComplete");
    } finally {
      await client.close();
    }
  });
});

describe("aria2.js over HTTP", () => {
  test("calls, multicall and batch answer as aria2 does; a wrong secret is refused", async () => {
    const client = clientOf(serve);
    const gid = String(
      await client.call("addUri", [origin.url("/other.bin")], { pause: "true", out: "http.bin" }),
    );
    const status = (await client.call("tellStatus", gid, ["gid", "status"])) as Record<string, unknown>;
    expect(status).toEqual({ gid, status: "paused" });
    const [stat, version] = (await client.multicall([["getGlobalStat"], ["getVersion"]])) as [
      [Record<string, string>],
      [Record<string, unknown>],
    ];
    expect(Number(stat[0]["numWaiting"])).toBeGreaterThanOrEqual(1);
    expect(version[0]["version"]).toBe("1.37.0");
    const [uris, unknown] = await Promise.allSettled(
      await client.batch([
        ["getUris", gid],
        ["tellStatus", "00000000000fffff"],
      ]),
    );
    expect(uris).toEqual({
      status: "fulfilled",
      value: [{ uri: origin.url("/other.bin"), status: "waiting" }],
    });
    expect(unknown?.status === "rejected" && String(unknown.reason)).toContain(
      "GID 00000000000fffff is not found",
    );
    const bad = clientOf(serve, "wrong");
    await expect(bad.call("getGlobalStat")).rejects.toThrow("Unauthorized");
    expect(await client.call("remove", gid)).toBe(gid);
  });
});

describe("one manager behind every API", () => {
  test("a download added over aria2 is DownloadService's and dlm ls's row, and the other way round", async () => {
    const client = clientOf(serve);
    const gid = String(
      await client.call("addUri", [origin.url("/file.bin")], { pause: "true", out: "shared.bin" }),
    );
    const id = BigInt(`0x${gid}`);
    const { download } = await serve.client.get({ id });
    expect(download?.url).toBe(origin.url("/file.bin"));
    expect(download?.state).toBe(DownloadState.PAUSED);
    const env = { DLM_HOME: home };
    const ls = await runDlm(["ls", "--json"], { cwd: dir, env });
    expect(ls.exitCode).toBe(EXIT.OK);
    expect(ls.stdout).toContain(`"id":"${id}"`);

    const added = await serve.client.add({
      url: origin.url("/other.bin"),
      output: "from-rpc.bin",
      startPaused: true,
    });
    const otherGid = (added.download?.id ?? 0n).toString(16).padStart(16, "0");
    const waiting = (await client.call("tellWaiting", 0, 100, ["gid", "status"])) as { gid: string }[];
    expect(waiting.map((row) => row.gid)).toEqual(expect.arrayContaining([gid, otherGid]));
    // A pause through aria2 is what DownloadService then sees, and a resume through DownloadService aria2's.
    await serve.client.resume({ selector: { ids: [id] } });
    expect(((await client.call("tellStatus", gid, ["status"])) as { status: string }).status).not.toBe(
      "paused",
    );
  });

  test("GIDs survive a restart: the same GID names the same download", async () => {
    const gid = String(
      await clientOf(serve).call("addUri", [origin.url("/other.bin")], { pause: "true", out: "restart.bin" }),
    );
    expect(await stopServe(serve)).toBe(EXIT.OK);
    serve = await start();
    const again = clientOf(serve);
    const uris = (await again.call("getUris", gid)) as { uri: string }[];
    expect(uris.map((u) => u.uri)).toEqual([origin.url("/other.bin")]);
    const options = (await again.call("getOption", gid)) as Record<string, string>;
    expect(options["out"]).toBe("restart.bin");
    expect(((await again.call("tellStatus", gid, ["gid"])) as { gid: string }).gid).toBe(gid);
  }, 30_000);
});
