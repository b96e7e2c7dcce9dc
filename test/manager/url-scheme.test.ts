// Every URL that reaches fetch is http or https, whatever brought it: an Update, a row stored by an older
// dlm, a resumed state.json. Bun's fetch would read file:// (and data:), copying a local secret into --dir.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { httpGet } from "../../src/engine/http.ts";
import { readStateFile, writeStateFile } from "../../src/engine/state-file.ts";
import { assertFetchableUrl } from "../../src/engine/url-scheme.ts";
import { UsageError } from "../../src/errors.ts";
import { EXIT } from "../../src/exit-codes.ts";
import type { Manager } from "../../src/manager/manager.ts";
import { quietContext } from "../control/fixture.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { newDownload } from "../helpers/new-download.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { openManager } from "./manager-fixture.ts";

const SECRET = "secret: never to be copied into the download directory\n";
const dirs = tempDirs("dlm-scheme-");
let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** A secret file outside the download directory, and its file:// URL. */
async function secretFile(size = SECRET.length): Promise<string> {
  const path = join(await dirs.fresh(), "secret.txt");
  await writeFile(path, SECRET.repeat(Math.ceil(size / SECRET.length)).slice(0, size));
  return `file://${path}`;
}

/** Every file under `dir` that holds the secret's first line. */
async function leaked(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(dir, { recursive: true })) {
    const path = join(dir, String(name));
    const text = await readFile(path, "utf8").catch(() => "");
    if (text.includes("secret: never")) found.push(path);
  }
  return found;
}

function open() {
  return openManager(dirs, {
    maxActive: 2,
    retryLater: false,
    engineRetry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 20 },
  });
}

async function settled(manager: Manager, id: number) {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const view = await manager.get(id);
    if (view?.state === "finished" || view?.state === "failed") return view;
    if (performance.now() > deadline) throw new Error(`download ${id} still ${view?.state}`);
    await Bun.sleep(20);
  }
}

describe("assertFetchableUrl", () => {
  test.each(["file:///etc/passwd", "data:text/plain,hi", "blob:http://x/1", "ftp://x/y", "not a url"])(
    "%s is refused, naming where it came from",
    (url) => {
      expect(() => assertFetchableUrl(url, "state.json")).toThrow(
        `state.json: expected an http:// or https:// URL, got ${JSON.stringify(url)}`,
      );
    },
  );

  test("http and https pass", () => {
    expect(assertFetchableUrl("https://example.com/a", "url").host).toBe("example.com");
    expect(assertFetchableUrl("http://127.0.0.1:1/a", "url").port).toBe("1");
  });

  test("httpGet refuses a file:// URL before fetch sees it", async () => {
    const url = await secretFile();
    let fetched = 0;
    const ctx = {
      ...quietContext(await dirs.fresh()),
      fetch: ((input: string | URL | Request, init?: RequestInit) => {
        fetched++;
        return fetch(input, init);
      }) as typeof fetch,
    };
    const get = httpGet(ctx, url, { headers: [], signal: new AbortController().signal });
    await expect(get).rejects.toBeInstanceOf(UsageError);
    expect(fetched).toBe(0);
  });
});

describe("Manager", () => {
  test("an Update of url to file:// is refused; the download goes on from its http URL", async () => {
    const { dir, store, manager } = await open();
    const url = origin.serve("/u.bin", { size: 64 * 1024, seed: 3 });
    const id = (await manager.add(newDownload(url, { output: "u.bin", state: "paused" }))).record.id;
    const target = await secretFile();
    await expect(manager.update(id, { url: target })).rejects.toThrow(
      `url: expected an http:// or https:// URL, got ${JSON.stringify(target)}`,
    );
    expect((await manager.get(id))?.url).toBe(url);
    await expect(manager.add(newDownload("data:text/plain,hi"))).rejects.toBeInstanceOf(UsageError);
    await manager.resume([id]);
    expect((await settled(manager, id)).state).toBe("finished");
    expect(await leaked(dir)).toEqual([]);
    await manager.stop();
    await store.close();
  });

  test("a row whose url is file:// (written by an older dlm) fails as usage when resumed, reading nothing", async () => {
    const { dir, store, manager } = await open();
    const target = await secretFile();
    const url = origin.serve("/r.bin", { size: 1024 });
    const id = (await manager.add(newDownload(url, { output: "r.bin", state: "paused" }))).record.id;
    // Past the manager's door, as a database from before the check would hold it.
    await store.update(id, { url: target }, Date.now());
    await manager.resume([id]);
    const view = await settled(manager, id);
    expect(view.state).toBe("failed");
    expect(view.failure?.kind).toBe("usage");
    expect(view.failure?.message).toContain(JSON.stringify(target));
    expect(await leaked(dir)).toEqual([]);
    await manager.stop();
    await store.close();
  });
});

test("dlm resume of a state.json whose url is file:// exits USAGE and reads nothing", async () => {
  const dir = await dirs.fresh();
  const size = 256 * 1024;
  // Cut after 64 kB with no retries: a sidecar with part of the file.
  const url = origin.serve("/s.bin", { size, dropAfterBytes: 64 * 1024 });
  const out = join(dir, "s.bin");
  const first = await runDlm(["get", url, "-o", out, "-c", "1", "--retries", "0", "--quiet"], { cwd: dir });
  expect(first.exitCode).toBe(EXIT.NETWORK);
  // The same size as the download, so nothing but the scheme tells them apart.
  const target = await secretFile(size);
  const state = await readStateFile(`${out}.dlm`);
  await writeStateFile(`${out}.dlm`, { ...state, url: target });
  const run = await runDlm(["resume", out, "--quiet"], { cwd: dir });
  expect(run.exitCode).toBe(EXIT.USAGE);
  expect(run.stderr).toContain(`expected an http:// or https:// URL, got ${JSON.stringify(target)}`);
  expect(existsSync(out)).toBe(false);
  expect(await leaked(dir)).toEqual([]);
});
