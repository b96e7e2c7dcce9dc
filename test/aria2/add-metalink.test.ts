// aria2.addMetalink through aria2.js (WebSocket) on dlm serve --aria2-rpc, the files served by the project's
// origin on 127.0.0.1: one download per file, urls by priority (first = url, rest = mirrors), the hash as the
// checksum, the name kept inside the download directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import Aria2 from "aria2";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import type { ServeProcess } from "../serve/serve-fixture.ts";
import { type Aria2Place, aria2Place, endAria2Serve, startAria2Serve } from "./aria2-serve.ts";
import { type MetalinkFileSpec, metalinkBase64 } from "./metalink-doc.ts";

const SECRET = "metalink-secret";
const SIZE = 300_000;

let origin: Origin;
let place: Aria2Place | undefined;
let tmp: string;
let dir: string;
let serve: ServeProcess;
let client: Aria2;

/** A Metalink of `files`, each SIZE bytes, base64. */
function metalink(files: readonly Omit<MetalinkFileSpec, "size">[]): string {
  return metalinkBase64(files.map((file) => ({ ...file, size: SIZE })));
}

/** Resolves with the first `event` (of `events`) notified for `gid`, bounded by 20 s. */
function notified(events: readonly string[], gid: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${events.join("/")} for ${gid()}`)), 20_000);
    const listeners = events.map((event) => {
      const listener = (params: [{ gid: string }]) => {
        if (params[0].gid !== gid()) return;
        clearTimeout(timer);
        for (const [name, one] of listeners) client.off(name, one);
        resolve(event);
      };
      client.on(event, listener);
      return [event, listener] as const;
    });
  });
}

async function status(gid: string): Promise<Record<string, unknown>> {
  return (await client.call("tellStatus", gid)) as Record<string, unknown>;
}

beforeAll(async () => {
  origin = await startOrigin();
  origin.serve("/a.bin", { size: SIZE });
  origin.serve("/a-mirror.bin", { size: SIZE });
  origin.serve("/b.bin", { size: SIZE, seed: 9 });
  place = await aria2Place("dlm-aria2ml-");
  ({ tmp, dir } = place);
  serve = await startAria2Serve(place, SECRET);
  const url = new URL(serve.aria2 ?? "");
  client = new Aria2({ host: url.hostname, port: Number(url.port), secret: SECRET, path: url.pathname });
  await client.open();
}, 30_000);

afterAll(async () => {
  await client?.close();
  await endAria2Serve(serve, origin, place);
});

describe("aria2.addMetalink", () => {
  test("a file arrives exact from its most preferred url; the others are its mirrors", async () => {
    let gid = "";
    const done = notified(["onDownloadComplete", "onDownloadError"], () => gid);
    const gids = (await client.call(
      "addMetalink",
      metalink([
        {
          name: "exact.bin",
          sha256: sha256Of(SIZE),
          urls: [
            [origin.url("/a-mirror.bin"), 2],
            [origin.url("/a.bin"), 1],
          ],
        },
      ]),
    )) as string[];
    expect(gids).toHaveLength(1);
    expect(gids[0]).toMatch(/^[0-9a-f]{16}$/);
    gid = gids[0] ?? "";
    expect(await done).toBe("onDownloadComplete");
    const bytes = await readFile(join(dir, "exact.bin"));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(sha256Of(SIZE));
    const options = (await client.call("getOption", gid)) as Record<string, string>;
    expect(options["checksum"]).toBe(`sha-256=${sha256Of(SIZE)}`);
    const files = (await client.call("getFiles", gid)) as { uris: unknown; path: string }[];
    expect(files[0]?.uris).toEqual([
      { uri: origin.url("/a.bin"), status: "used" },
      { uri: origin.url("/a-mirror.bin"), status: "waiting" },
    ]);
    expect(files[0]?.path).toBe(join(dir, "exact.bin"));
    // As aria2c: a stopped download keeps no URI data.
    await expect(client.call("getUris", gid)).rejects.toThrow(`No URI data is available for GID#${gid}`);
  }, 30_000);

  test("a file whose bytes do not match its hash ends in status error (32), not under its name", async () => {
    let gid = "";
    const done = notified(["onDownloadComplete", "onDownloadError"], () => gid);
    const wrong = sha256Of(SIZE, 9);
    const gids = (await client.call(
      "addMetalink",
      metalink([{ name: "bad-hash.bin", sha256: wrong, urls: [[origin.url("/a.bin"), 1]] }]),
    )) as string[];
    gid = gids[0] ?? "";
    expect(await done).toBe("onDownloadError");
    const answer = await status(gid);
    expect(answer["status"]).toBe("error");
    expect(answer["errorCode"]).toBe("32");
    expect(await Bun.file(join(dir, "bad-hash.bin")).exists()).toBe(false);
  }, 30_000);

  test("a name with ../ stays inside the download directory; several files give several GIDs, in place", async () => {
    const blocker = String(
      await client.call("addUri", [origin.url("/a.bin")], { pause: "true", out: "w.bin" }),
    );
    const gids = (await client.call(
      "addMetalink",
      metalink([
        { name: "../../escape.bin", urls: [[origin.url("/b.bin"), 1]] },
        {
          name: "sub/../../second.bin",
          urls: [
            [origin.url("/a-mirror.bin"), 5],
            [origin.url("/a.bin"), 1],
          ],
        },
      ]),
      { pause: "true" },
      0,
    )) as string[];
    expect(gids).toHaveLength(2);
    const waiting = (await client.call("tellWaiting", 0, 10, ["gid"])) as { gid: string }[];
    expect(waiting.map((row) => row.gid).slice(0, 3)).toEqual([...gids, blocker]);
    const [first, second] = (await Promise.all(gids.map((gid) => client.call("getOption", gid)))) as Record<
      string,
      string
    >[];
    expect(first?.["out"]).toBe("escape.bin");
    expect(second?.["out"]).toBe("second.bin");
    // A waiting download's URL and mirrors, none in use yet.
    expect(await client.call("getUris", gids[1])).toEqual([
      { uri: origin.url("/a.bin"), status: "waiting" },
      { uri: origin.url("/a-mirror.bin"), status: "waiting" },
    ]);
    await expect(client.call("getServers", gids[1])).rejects.toThrow("No active download");
    // The Metalink's <size> is its length before any run, as aria2 shows it.
    expect(await client.call("tellStatus", gids[1], ["totalLength"])).toEqual({ totalLength: String(SIZE) });
    let gid = "";
    const done = notified(["onDownloadComplete", "onDownloadError"], () => gid);
    gid = gids[0] ?? "";
    await client.call("unpause", gid);
    expect(await done).toBe("onDownloadComplete");
    expect(
      createHash("sha256")
        .update(await readFile(join(dir, "escape.bin")))
        .digest("hex"),
    ).toBe(sha256Of(SIZE, 9));
    expect(await readdir(tmp)).toEqual(expect.arrayContaining(["dl", "home"]));
    expect(await readdir(tmp)).not.toContain("escape.bin");
  }, 30_000);

  test("a document that is not base64, not a Metalink, or `out` for several files is refused, adding nothing", async () => {
    const before = ((await client.call("getGlobalStat")) as Record<string, string>)["numWaiting"];
    await expect(client.call("addMetalink", "not base64!")).rejects.toThrow("not base64");
    await expect(client.call("addMetalink", Buffer.from("<html/>").toString("base64"))).rejects.toThrow(
      "not a Metalink document",
    );
    const two = metalink([
      { name: "x.bin", urls: [[origin.url("/a.bin"), 1]] },
      { name: "y.bin", urls: [[origin.url("/b.bin"), 1]] },
    ]);
    await expect(client.call("addMetalink", two, { out: "one.bin" })).rejects.toThrow("option out");
    const ftpOnly = metalink([{ name: "z.bin", urls: [["ftp://127.0.0.1/z.bin", 1]] }]);
    await expect(client.call("addMetalink", ftpOnly)).rejects.toThrow("z.bin");
    const after = ((await client.call("getGlobalStat")) as Record<string, string>)["numWaiting"];
    expect(after).toBe(before);
  });
});
