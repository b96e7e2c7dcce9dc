// Credential headers are write-only: kept to be sent (to their origin only), shown as set without their
// value in every view, never stored in an event; an Update of the URL to another origin drops them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { isCredentialHeader } from "../../src/engine/credential-headers.ts";
import type { Manager } from "../../src/manager/manager.ts";
import { headersAfterUpdate, hideSecrets } from "../../src/manager/secret-headers.ts";
import { tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { openManager } from "./manager-fixture.ts";

const BODY = "x".repeat(50_000);
const HEADERS = [
  ["Authorization", "Bearer s3cret-A"],
  ["Cookie", "sid=s3cret-B"],
  ["X-Api-Key", "s3cret-C"],
  ["User-Agent", "dlm-test"],
] as const;

/** A plain server on 127.0.0.1 that records the headers of each request it gets. */
function recordingServer() {
  const seen: Record<string, string | null>[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      seen.push({
        authorization: request.headers.get("authorization"),
        cookie: request.headers.get("cookie"),
        "x-api-key": request.headers.get("x-api-key"),
        "user-agent": request.headers.get("user-agent"),
      });
      return new Response(BODY, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  return {
    seen,
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    stop: () => server.stop(true),
  };
}

const dirs = tempDirs("dlm-secrets-");
let a: ReturnType<typeof recordingServer>;
let b: ReturnType<typeof recordingServer>;
beforeAll(() => {
  a = recordingServer();
  b = recordingServer();
});
afterAll(async () => {
  await a.stop();
  await b.stop();
  await dirs.removeAll();
});

async function open() {
  const opened = await openManager(dirs, {
    maxActive: 2,
    retryLater: false,
    engineRetry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 20 },
  });
  return { ...opened, path: opened.dbPath };
}

async function settled(manager: Manager, id: number) {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const view = await manager.get(id);
    if (view?.state === "finished" || view?.state === "failed" || view?.state === "paused") return view;
    if (performance.now() > deadline) throw new Error(`download ${id} still ${view?.state}`);
    await Bun.sleep(20);
  }
}

/** Every event payload stored in the database file, as text. */
async function storedPayloads(path: string): Promise<string> {
  const db = new SQL(`sqlite://${path}`);
  const rows: { payload: string }[] = await db`SELECT payload FROM events`;
  await db.close();
  return rows.map((row) => row.payload).join("\n");
}

const HIDDEN: [string, string][] = [
  ["Authorization", ""],
  ["Cookie", ""],
  ["X-Api-Key", ""],
  ["User-Agent", "dlm-test"],
];

describe("credential headers", () => {
  test("are sent, shown only as set, and never stored in an event, even after Remove", async () => {
    const { path, store, manager, events } = await open();
    a.seen.length = 0;
    const added = await manager.add(newDownload(a.url("/one.bin"), { headers: HEADERS, output: "one.bin" }));
    expect(added.record.headers).toEqual(HIDDEN);
    expect(added.record.secretHeaders).toEqual(["Authorization", "Cookie", "X-Api-Key"]);
    const id = added.record.id;
    expect((await settled(manager, id)).state).toBe("finished");
    expect(a.seen[0]).toEqual({
      authorization: "Bearer s3cret-A",
      cookie: "sid=s3cret-B",
      "x-api-key": "s3cret-C",
      "user-agent": "dlm-test",
    });
    expect((await manager.get(id))?.headers).toEqual(HIDDEN);
    expect((await manager.list())[0]?.headers).toEqual(HIDDEN);
    await manager.remove([id], false);
    expect(JSON.stringify(events)).not.toContain("s3cret");
    expect(JSON.stringify(await store.eventsAfter(0, 1000))).not.toContain("s3cret");
    const payloads = await storedPayloads(path);
    expect(payloads).toContain("Authorization");
    expect(payloads).not.toContain("s3cret");
    await manager.stop();
    await store.close();
  });

  test("an Update of url to another origin drops them, unless the same Update gives them", async () => {
    const { store, manager } = await open();
    const id = (
      await manager.add(
        newDownload(a.url("/two.bin"), { headers: HEADERS, output: "two.bin", state: "paused" }),
      )
    ).record.id;
    b.seen.length = 0;
    const moved = await manager.update(id, { url: b.url("/two.bin") });
    expect(moved?.headers).toEqual([["User-Agent", "dlm-test"]]);
    await manager.resume([id]);
    expect((await settled(manager, id)).state).toBe("finished");
    expect(b.seen[0]).toEqual({
      authorization: null,
      cookie: null,
      "x-api-key": null,
      "user-agent": "dlm-test",
    });

    const other = (
      await manager.add(
        newDownload(a.url("/three.bin"), { headers: HEADERS, output: "three.bin", state: "paused" }),
      )
    ).record.id;
    // Given back as shown ("" = keep), they do not cross to the other origin; a new value does.
    await manager.update(other, {
      url: b.url("/three.bin"),
      headers: [
        ["Authorization", "Bearer for-b"],
        ["Cookie", ""],
      ],
    });
    b.seen.length = 0;
    await manager.resume([other]);
    expect((await settled(manager, other)).state).toBe("finished");
    expect(b.seen[0]).toMatchObject({
      authorization: "Bearer for-b",
      cookie: null,
      "x-api-key": null,
    });
    await manager.stop();
    await store.close();
  });

  test("an Update on the same origin that gives back the headers as shown keeps the values", async () => {
    const { store, manager } = await open();
    const added = await manager.add(
      newDownload(a.url("/four.bin"), { headers: HEADERS, output: "four.bin", state: "paused" }),
    );
    await manager.update(added.record.id, { headers: [...added.record.headers, ["Accept", "*/*"]] });
    a.seen.length = 0;
    await manager.resume([added.record.id]);
    expect((await settled(manager, added.record.id)).state).toBe("finished");
    expect(a.seen[0]?.["authorization"]).toBe("Bearer s3cret-A");
    expect(a.seen[0]?.["x-api-key"]).toBe("s3cret-C");
    await manager.stop();
    await store.close();
  });
});

describe("secret-headers rules", () => {
  test.each([
    ["Authorization", true],
    ["proxy-authorization", true],
    ["COOKIE", true],
    ["X-Api-Key", true],
    ["X-Auth-Token", true],
    ["Private-Token", true],
    ["X-Amz-Security-Token", true],
    ["User-Agent", false],
    ["Accept", false],
    ["X-Tokenizer", false],
  ] as const)("%s is a credential: %p", (name, secret) => {
    expect(isCredentialHeader(name)).toBe(secret);
  });

  test("hideSecrets keeps names and order", () => {
    expect(hideSecrets(HEADERS)).toEqual(HIDDEN);
  });

  test("headersAfterUpdate", () => {
    expect(headersAfterUpdate(HEADERS, undefined, true)).toBe(HEADERS);
    expect(headersAfterUpdate(HEADERS, undefined, false)).toEqual([["User-Agent", "dlm-test"]]);
    expect(headersAfterUpdate(HEADERS, HIDDEN, true)).toEqual(HEADERS);
    expect(headersAfterUpdate(HEADERS, HIDDEN, false)).toEqual([["User-Agent", "dlm-test"]]);
    expect(headersAfterUpdate(HEADERS, [["Authorization", ""]], true)).toEqual([
      ["Authorization", "Bearer s3cret-A"],
    ]);
    expect(headersAfterUpdate([], [["Authorization", ""]], true)).toEqual([]);
  });
});
