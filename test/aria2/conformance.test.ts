// The same calls to a real aria2c (Debian's) and to dlm serve --aria2-rpc, both downloading from the project's
// origin on 127.0.0.1: every key and value type aria2c answers must be in dlm's answer (extra keys allowed),
// the values that mean the same thing on both (statuses, lengths, error codes) must be equal, and the
// WebSocket notifications must come in the same order.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe } from "../serve/serve-fixture.ts";
import { type Aria2c, HAVE_ARIA2C, startAria2c } from "./aria2c.ts";
import { conformanceGaps } from "./conformance.ts";
import { metalinkBase64 } from "./metalink-doc.ts";
import {
  call,
  callBatch,
  callGet,
  callRaw,
  Notifications,
  type RpcAnswer,
  statusUntil,
} from "./rpc-client.ts";

const SECRET = "conformance-secret";
const SIZE = 1_500_000;
/** Content seed of the Metalink's file (its two urls serve the same bytes). */
const ML_SEED = 3;

interface Target {
  readonly url: string;
  readonly dir: string;
  readonly ws: Notifications;
}

/** What each step answered, by step name. */
type Record = Map<string, RpcAnswer>;

/** Every method the scenario called on dlm (system.multicall's inner calls included). */
const called = new Set<string>();

let origin: Origin;
let tmp: string;
let aria2c: Aria2c | undefined;
let dlm: ServeProcess | undefined;
const answers: { aria2c: Record; dlm: Record; notes: { aria2c: string[][]; dlm: string[][] } } = {
  aria2c: new Map(),
  dlm: new Map(),
  notes: { aria2c: [], dlm: [] },
};

/** The scenario, run the same way against both servers. Returns the notifications per download. */
async function scenario(target: Target, record: Record): Promise<string[][]> {
  const step = async (name: string, method: string, params: readonly unknown[] = [], raw = false) => {
    const answer = raw
      ? await callRaw(target.url, method, params)
      : await call(target.url, SECRET, method, params);
    called.add(method);
    record.set(name, answer);
    return answer;
  };
  const gidOf = (answer: RpcAnswer) => {
    if (typeof answer.result !== "string") throw new Error(`expected a GID, got ${JSON.stringify(answer)}`);
    return answer.result;
  };
  await step("getVersion", "aria2.getVersion");
  await step("getSessionInfo", "aria2.getSessionInfo");
  await step("listMethods", "system.listMethods");
  await step("listNotifications", "system.listNotifications");
  await step("getGlobalStat.empty", "aria2.getGlobalStat");
  record.set("GET getVersion", await callGet(target.url, SECRET, "aria2.getVersion"));
  record.set(
    "GET tellStatus unknown",
    await callGet(target.url, SECRET, "aria2.tellStatus", ["00000000000fffff"]),
  );
  record.set(
    "batch",
    await callBatch(target.url, SECRET, [
      ["aria2.getGlobalStat"],
      ["aria2.tellStatus", "00000000000fffff"],
      ["aria2.nope"],
    ]),
  );
  await step("getGlobalOption", "aria2.getGlobalOption");
  await step("changeGlobalOption", "aria2.changeGlobalOption", [{ "max-overall-download-limit": "0" }]);

  const g1 = gidOf(
    await step("addUri.paused", "aria2.addUri", [
      [origin.url("/one.bin")],
      {
        pause: "true",
        dir: join(target.dir, "sub"),
        out: "one.bin",
        split: "2",
        header: ["X-Test: 1"],
        "max-download-limit": "400K",
        "user-agent": "conformance/1",
        referer: "http://127.0.0.1/page",
      },
    ]),
  );
  const g2 = gidOf(
    await step("addUri.mirrors", "aria2.addUri", [
      [origin.url("/two.bin"), origin.url("/two-b.bin")],
      { pause: "true" },
    ]),
  );
  await step("tellStatus.paused", "aria2.tellStatus", [g1]);
  await step("tellStatus.keys", "aria2.tellStatus", [g1, ["gid", "status", "totalLength"]]);
  await step("getUris", "aria2.getUris", [g2]);
  await step("getFiles", "aria2.getFiles", [g2]);
  await step("getOption", "aria2.getOption", [g1]);
  await step("tellWaiting", "aria2.tellWaiting", [0, 10]);
  await step("tellWaiting.keys", "aria2.tellWaiting", [-1, 1, ["gid", "status"]]);
  await step("changePosition.set", "aria2.changePosition", [g2, 0, "POS_SET"]);
  await step("changePosition.cur", "aria2.changePosition", [g2, 1, "POS_CUR"]);
  await step("changePosition.end", "aria2.changePosition", [g2, 0, "POS_END"]);
  await step("changeUri", "aria2.changeUri", [g2, 1, [origin.url("/two-b.bin")], [origin.url("/two-c.bin")]]);
  await step("getUris.changed", "aria2.getUris", [g2]);
  await step("changeOption", "aria2.changeOption", [g1, { "max-download-limit": "300K" }]);
  await step("getServers.waiting", "aria2.getServers", [g1]);
  await step("tellStatus.unknown", "aria2.tellStatus", ["00000000000fffff"]);
  await step("pause.paused", "aria2.pause", [g1]);
  await step("unpause.notPaused", "aria2.unpause", ["00000000000fffff"]);
  await step("addTorrent", "aria2.addTorrent", ["bm90IGEgdG9ycmVudA=="]);
  await step("addMetalink", "aria2.addMetalink", ["bm90IGEgbWV0YWxpbms="]);
  await step("noSuchMethod", "aria2.noSuchMethod");
  await step("forcePause.paused", "aria2.forcePause", [g1]);
  // A waiting download leaves without a notification (aria2 sends onDownloadStop for active ones only).
  await step("remove", "aria2.remove", [g2]);
  await step("tellStatus.removed", "aria2.tellStatus", [g2]);
  await step("tellStopped.removed", "aria2.tellStopped", [0, 10]);
  await step("removeDownloadResult", "aria2.removeDownloadResult", [g2]);

  await step("unpause", "aria2.unpause", [g1]);
  await target.ws.waitFor(g1, "onDownloadStart");
  // Bytes flowing, so both have a server to list.
  await statusUntil(target.url, SECRET, g1, (status) => Number(status["completedLength"]) > 0);
  await step("tellActive", "aria2.tellActive", [["gid", "status", "dir"]]);
  await step("getServers", "aria2.getServers", [g1]);
  await step("getPeers", "aria2.getPeers", [g1]);
  await step("pause.active", "aria2.pause", [g1]);
  await target.ws.waitFor(g1, "onDownloadPause");
  await step("pauseAll", "aria2.pauseAll");
  await step("forcePauseAll", "aria2.forcePauseAll");
  await step("unpauseAll", "aria2.unpauseAll");
  await step("changeOption.unlimited", "aria2.changeOption", [g1, { "max-download-limit": "0" }]);
  await target.ws.waitFor(g1, "onDownloadComplete");
  await step("tellStatus.complete", "aria2.tellStatus", [g1]);
  await step("getGlobalStat", "aria2.getGlobalStat");

  const g3 = gidOf(await step("addUri.missing", "aria2.addUri", [[origin.url("/missing.bin")]]));
  await target.ws.waitFor(g3, "onDownloadError");
  await step("tellStatus.error", "aria2.tellStatus", [g3]);
  await step("tellStopped", "aria2.tellStopped", [0, 10, ["gid", "status", "errorCode"]]);

  const g4 = gidOf(
    await step("addUri.four", "aria2.addUri", [[origin.url("/two.bin")], { "max-download-limit": "100K" }]),
  );
  await target.ws.waitFor(g4, "onDownloadStart");
  await statusUntil(target.url, SECRET, g4, (status) => Number(status["completedLength"]) > 0);
  await step("forceRemove", "aria2.forceRemove", [g4]);
  await target.ws.waitFor(g4, "onDownloadStop");
  await step("tellStatus.removedActive", "aria2.tellStatus", [g4, ["gid", "status", "files"]]);

  // A Metalink 4 over RPC: its file from the most preferred url, the hash checked; a bad hash is an error.
  const gidsOf = (answer: RpcAnswer) => {
    const gids = answer.result;
    if (!Array.isArray(gids) || !gids.every((gid) => typeof gid === "string")) {
      throw new Error(`expected GIDs, got ${JSON.stringify(answer)}`);
    }
    return gids as string[];
  };
  const mlUrls = [
    [origin.url("/ml-mirror.bin"), 2],
    [origin.url("/ml.bin"), 1],
  ] as const;
  const [g5 = ""] = gidsOf(
    await step("addMetalink.file", "aria2.addMetalink", [
      metalinkBase64([{ name: "ml.bin", size: SIZE, sha256: sha256Of(SIZE, ML_SEED), urls: mlUrls }]),
    ]),
  );
  await target.ws.waitFor(g5, "onDownloadComplete");
  await step("tellStatus.metalink", "aria2.tellStatus", [g5]);
  await step("getFiles.metalink", "aria2.getFiles", [g5]);
  await step("getUris.stopped", "aria2.getUris", [g5]);
  const [g6 = ""] = gidsOf(
    await step("addMetalink.badHash", "aria2.addMetalink", [
      metalinkBase64([{ name: "ml-bad.bin", size: SIZE, sha256: sha256Of(SIZE, 99), urls: mlUrls }]),
    ]),
  );
  await target.ws.waitFor(g6, "onDownloadError");
  await step("tellStatus.badHash", "aria2.tellStatus", [g6, ["gid", "status", "errorCode", "totalLength"]]);
  const waitingMl = gidsOf(
    await step("addMetalink.two", "aria2.addMetalink", [
      metalinkBase64([
        { name: "ml-1.bin", size: SIZE, urls: mlUrls },
        { name: "ml-2.bin", size: SIZE, urls: [[origin.url("/two.bin"), 1]] },
      ]),
      { pause: "true" },
    ]),
  );
  await step("getUris.metalinkWaiting", "aria2.getUris", [waitingMl[0]]);
  await step("getFiles.metalinkWaiting", "aria2.getFiles", [waitingMl[0]]);
  for (const gid of waitingMl)
    await step(`remove.metalink.${gid === waitingMl[0] ? 1 : 2}`, "aria2.remove", [gid]);

  await step(
    "multicall",
    "system.multicall",
    [
      [
        { methodName: "aria2.getGlobalStat", params: [`token:${SECRET}`] },
        { methodName: "aria2.tellStatus", params: [`token:${SECRET}`, "00000000000fffff"] },
        { methodName: "aria2.getVersion", params: ["token:wrong"] },
        { methodName: "system.multicall", params: [[]] },
      ],
    ],
    true,
  );
  await step("purgeDownloadResult", "aria2.purgeDownloadResult");
  await step("tellStopped.purged", "aria2.tellStopped", [0, 10]);
  await step("saveSession", "aria2.saveSession");
  // forceShutdown is compared with aria2c's in security.test.ts (a server stops only once).
  await step("shutdown", "aria2.shutdown");
  return [g1, g2, g3, g4, g5, g6].map((gid) => target.ws.of(gid));
}

beforeAll(async () => {
  if (!HAVE_ARIA2C) return;
  origin = await startOrigin();
  for (const name of ["/one.bin", "/two.bin", "/two-b.bin", "/two-c.bin"]) {
    origin.serve(name, { size: SIZE, seed: name.length });
  }
  origin.serve("/missing.bin", { size: 1, status: 404 });
  origin.serve("/ml.bin", { size: SIZE, seed: ML_SEED });
  origin.serve("/ml-mirror.bin", { size: SIZE, seed: ML_SEED });
  tmp = await mkdtemp(join(tmpdir(), "dlm-aria2-conf-"));
  const a2dir = join(tmp, "aria2c");
  const dlmDir = join(tmp, "dlm");
  await Bun.write(join(a2dir, ".keep"), "");
  await Bun.write(join(dlmDir, ".keep"), "");
  aria2c = await startAria2c(a2dir, SECRET);
  dlm = await startServe(join(tmp, "home"), dlmDir, [
    "--dir",
    dlmDir,
    "--aria2-rpc",
    "127.0.0.1:0",
    "--rpc-secret",
    SECRET,
    "--rpc-allow-shutdown",
    "--retries",
    "0",
  ]);
  const dlmUrl = dlm.aria2 ?? "";
  const [wsA, wsD] = await Promise.all([Notifications.open(aria2c.url), Notifications.open(dlmUrl)]);
  // Side by side, so the slow parts (the paced downloads) overlap.
  const [notesA, notesD] = await Promise.all([
    scenario({ url: aria2c.url, dir: a2dir, ws: wsA }, answers.aria2c),
    scenario({ url: dlmUrl, dir: dlmDir, ws: wsD }, answers.dlm),
  ]);
  answers.notes = { aria2c: notesA, dlm: notesD };
  wsA.close();
  wsD.close();
}, 120_000);

afterAll(async () => {
  await aria2c?.stop();
  if (dlm !== undefined && dlm.child.exitCode === null) dlm.child.kill("SIGKILL");
  await origin?.close();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

test.skipIf(!HAVE_ARIA2C)(
  "every answer of aria2c is in dlm's: keys, value types, and the values that mean the same",
  () => {
    const gaps: string[] = [];
    for (const [name, expected] of answers.aria2c) {
      gaps.push(...conformanceGaps(name, expected, answers.dlm.get(name)));
    }
    expect(gaps).toEqual([]);
    expect(answers.dlm.size).toBe(answers.aria2c.size);
  },
);

test.skipIf(!HAVE_ARIA2C)("notifications come in the same order for each download", () => {
  expect(answers.notes.dlm).toEqual(answers.notes.aria2c);
  expect(answers.notes.aria2c[0]).toEqual([
    "onDownloadStart",
    "onDownloadPause",
    "onDownloadStart",
    "onDownloadComplete",
  ]);
});

test.skipIf(!HAVE_ARIA2C)(
  "the scenario calls every method dlm lists, and dlm lists every method aria2c does",
  () => {
    const listed = (record: Record) => (record.get("listMethods")?.result ?? []) as string[];
    expect(listed(answers.dlm)).toEqual(expect.arrayContaining(listed(answers.aria2c)));
    const notCalled = listed(answers.dlm).filter((method) => !called.has(method));
    expect(notCalled).toEqual(["aria2.forceShutdown"]);
  },
);

test.skipIf(!HAVE_ARIA2C)("shutdown stops both servers", async () => {
  expect(await aria2c?.child.exited).toBe(0);
  expect(await dlm?.child.exited).toBe(0);
});
