import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { CHROMIUM, HAVE_CHROMIUM, launchBrowser } from "../helpers/chromium.ts";
import { BUN_BIN, jsonLines, MAIN_TS } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

// The download page of `dlm get URL --mirror URL2 --listen 0` in a real browser (issue 21 item 5): a line per
// source with its rate, connections, bytes and state, and each connection naming its source.
let main: Origin;
let mirror: Origin;
let dir: string;
let context: BrowserContext;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  [main, mirror] = await Promise.all([startOrigin(), startOrigin()]);
  dir = await mkdtemp(join(tmpdir(), "dlm-sources-page-"));
  context = await launchBrowser(join(dir, "profile"), { width: 1100, height: 820 });
});

afterAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await context.close();
  await Promise.all([main.close(), mirror.close()]);
  await rm(dir, { recursive: true, force: true });
});

const SUITE = HAVE_CHROMIUM
  ? "download page sources in chromium"
  : `download page sources in chromium: skipped, ${CHROMIUM} is absent`;

describe.skipIf(!HAVE_CHROMIUM)(SUITE, () => {
  test("two sources listed with their rates; connections name their source", async () => {
    // 16 MiB at 512 KiB/s per connection over 4 connections: several seconds to look at.
    const file = { size: 16 * 1024 * 1024, seed: 3, throttleBytesPerSec: 512 * 1024 };
    const url = main.serve("/s.bin", file);
    const other = mirror.serve("/s.bin", file);
    const dlm = Bun.spawn(
      [BUN_BIN, MAIN_TS, "get", url, "--mirror", other, "-o", "s.bin", "-c", "4", "--listen", "0", "--json"],
      { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    const killer = setTimeout(() => dlm.kill("SIGKILL"), 50_000);
    const reader = (dlm.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    while (!out.includes('"type":"control"')) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const control = jsonLines(out).find((r) => r["type"] === "control") ?? {};
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(String(control["dashboard"]));
    // Both sources carrying connections at once, each line naming its host.
    await page.waitForFunction(
      () => {
        const lines = [...document.querySelectorAll("#sources li")].map((li) => li.textContent ?? "");
        return (
          lines.length === 2 &&
          lines.every((l, i) =>
            new RegExp(`^#${i} 127\\.0\\.0\\.1:\\d+ [\\d.]+ \\S+/s, \\d+ connections?, [\\d.]+ \\S*B$`).test(
              l,
            ),
          )
        );
      },
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.$eval("#sources-section", (e) => (e as HTMLElement).hidden)).toBe(false);
    const titles = await page.$$eval("#sources li", (lis) => lis.map((li) => li.getAttribute("title")));
    expect(titles).toEqual([url, other]);
    const connections = await page.$$eval("#connections li", (lis) => lis.map((li) => li.textContent ?? ""));
    expect(connections.some((c) => c.includes("from source #0"))).toBe(true);
    expect(connections.some((c) => c.includes("from source #1"))).toBe(true);
    await page.close();
    dlm.kill("SIGINT");
    await dlm.exited;
    clearTimeout(killer);
    expect(problems).toEqual([]);
  }, 60_000);
});
