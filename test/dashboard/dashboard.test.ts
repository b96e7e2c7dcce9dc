import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { EXIT } from "../../src/exit-codes.ts";
import { type Plane, planeFor } from "../control/fixture.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { ARTIFACTS, CHROMIUM, HAVE_CHROMIUM, launchBrowser } from "../helpers/chromium.ts";
import { BUN_BIN, jsonLines, MAIN_TS } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

// The dashboard in a real browser: Debian's chromium driven by playwright-core (its own browser download is
// not possible here) against `dlm get --listen 0` fetching a throttled file from the test origin.
const SIZE = 32 * 1024 * 1024;
const SEED = 11;
/** Per connection; four of them make the download last about 8 s, long enough to watch and pause. */
const RATE = 1024 * 1024;

let origin: Origin;
let dir: string;
let context: BrowserContext;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-dashboard-"));
  await mkdir(ARTIFACTS, { recursive: true });
  // A fresh profile every run: nothing cached, no session storage, no first-run state.
  context = await launchBrowser(join(dir, "profile"), { width: 1100, height: 820 });
});

afterAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await context.close();
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** A `dlm` process with its output collected as it comes. */
function spawnDlm(args: readonly string[], env: Record<string, string> = {}) {
  const child = Bun.spawn([BUN_BIN, MAIN_TS, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stdout: "", stderr: "" };
  // Waiters for output, checked as each chunk arrives (and once more when the stream ends).
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out[key] += decoder.decode(chunk, { stream: true });
      for (const check of [...waiters]) check();
    }
    for (const check of [...waiters]) check();
  };
  /** Resolves once `key` contains `text`; rejects if the process ends first, or after `timeoutMs`. */
  const printed = (key: "stdout" | "stderr", text: string, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no ${JSON.stringify(text)} on ${key} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const finish = (error?: Error) => {
        clearTimeout(timer);
        waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      const check = () => {
        if (out[key].includes(text)) finish();
        else if (ended)
          finish(new Error(`dlm exited without ${JSON.stringify(text)} on ${key}: ${out.stderr}`));
      };
      waiters.add(check);
      check();
    });
  let ended = false;
  const pumped = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
  const done = Promise.all([child.exited, pumped]).then(([exitCode]) => {
    clearTimeout(timer);
    ended = true;
    for (const check of [...waiters]) check();
    return exitCode;
  });
  return { child, out, done, printed };
}

/** What the page shows, read in the browser. `coverage`: percent of the file the segment map paints done. */
function readPage(page: Page) {
  return page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent ?? "";
    let coverage = 0;
    for (const seg of document.querySelectorAll<HTMLElement>("#map .seg")) {
      const fill = seg.querySelector<HTMLElement>("i");
      coverage += (Number.parseFloat(seg.style.width) * Number.parseFloat(fill?.style.width ?? "0")) / 100;
    }
    return {
      state: text("state"),
      percent: Number.parseFloat(text("percent")),
      done: text("done"),
      rate: text("rate"),
      segments: document.querySelectorAll("#map .seg").length,
      connections: document.querySelectorAll("#connections li").length,
      coverage,
      notice: (document.getElementById("notice") as HTMLElement).hidden ? "" : text("notice"),
      pauseDisabled: (document.getElementById("pause") as HTMLButtonElement).disabled,
      resumeDisabled: (document.getElementById("resume") as HTMLButtonElement).disabled,
    };
  });
}

/**
 * The elapsed time the page shows ("6.7s", "42s", "1m05s"), in seconds. Runs in the page (self-contained:
 * the page's CSP allows no eval, so it cannot be handed code as text).
 */
function pageElapsed(): number {
  const m = /^(?:(\d+)m)?([\d.]+)s$/.exec(document.getElementById("elapsed")?.textContent ?? "");
  return m === null ? Number.NaN : Number(m[1] ?? 0) * 60 + Number(m[2]);
}

const stateIs = (page: Page, state: string, timeout = 15_000) =>
  page.waitForFunction((s) => document.getElementById("state")?.textContent === s, state, { timeout });

const SUITE = HAVE_CHROMIUM
  ? "dashboard in chromium"
  : `dashboard in chromium: skipped, ${CHROMIUM} is absent (apt-get install chromium)`;

describe.skipIf(!HAVE_CHROMIUM)(SUITE, () => {
  test("loads from the printed URL, advances, pauses the transfer, resumes to the right SHA-256", async () => {
    const url = origin.serve("/dash.bin", { size: SIZE, seed: SEED, throttleBytesPerSec: RATE });
    const dlm = spawnDlm(["get", url, "-o", "dash.bin", "-c", "4", "--listen", "0", "--json"], {
      DLM_LOG: "debug",
      DLM_LOG_FORMAT: "json",
    });
    await dlm.printed("stdout", '"type":"control"');
    const control = jsonLines(dlm.out.stdout).find((r) => r["type"] === "control") ?? {};
    const dashboard = String(control["dashboard"]);
    const token = new URLSearchParams(new URL(dashboard).hash.slice(1)).get("token") ?? "";
    expect(dashboard).toBe(`${control["http"]}/#token=${token}`);
    expect(token.length).toBeGreaterThanOrEqual(32);
    await dlm.printed("stderr", `dlm: dashboard ${dashboard}\n`);

    const requests: string[] = [];
    context.on("request", (r) => requests.push(r.url()));
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(dashboard);
    await stateIs(page, "running");
    // The token leaves the address bar (and so screenshots, bookmarks and shared screens) at once.
    expect(page.url()).toBe(`${control["http"]}/`);

    // Dark mode and phone width, opened now so their charts and maps have history by the screenshots.
    const extras: [string, Page][] = [
      ["dashboard-dark.png", await openPage(dashboard, 1100, 820, true)],
      ["dashboard-phone.png", await openPage(dashboard, 390, 844, false)],
    ];
    const before = await readPage(page);
    // Mid-download (the screenshots want a map with some history): 40 %, about 3 s on.
    await page.waitForFunction(
      (p) => Number.parseFloat(document.getElementById("percent")?.textContent ?? "0") > Math.max(p + 10, 40),
      before.percent,
      { timeout: 15_000 },
    );
    const after = await readPage(page);
    expect(after.percent).toBeLessThan(100);
    expect(after.coverage).toBeGreaterThan(before.coverage);
    // The map and the numbers tell the same story (uint64 fields arrive as bigint and are converted once).
    expect(Math.abs(after.coverage - after.percent)).toBeLessThan(3);
    expect(after.done).toMatch(/^\d+(\.\d+)? MiB of 32\.0 MiB$/);
    expect(after.rate).toMatch(/^\d+(\.\d+)? (KiB|MiB)\/s$/);
    expect(after.segments).toBeGreaterThanOrEqual(4);
    expect(after.connections).toBe(4);
    await page.click("#pause");
    await stateIs(page, "paused");
    const paused = await readPage(page);
    expect([paused.pauseDisabled, paused.resumeDisabled]).toEqual([true, false]);
    // Screenshots while paused: a loaded machine can take seconds over them, and a download that finished
    // meanwhile would leave nothing to pause (the map keeps its history either way).
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    // One after the other: concurrent screenshots of two pages in one headless browser came out tiled.
    for (const [name, extra] of extras) {
      await extra.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
      await extra.close();
    }

    // Every connection gone, as the stream tells the page; then a second more of the stream (each message
    // carries the server's elapsed time) during which the origin serves at most the one chunk per
    // connection that was already on its way (64 KiB at this rate), not the 4 MiB a running download would.
    await page.waitForFunction(() => document.getElementById("conns")?.textContent === "0", undefined, {
      timeout: 5_000,
    });
    const served = origin.stats.bytesServed;
    const since = await page.evaluate(pageElapsed);
    expect(since).toBeGreaterThan(0);
    await page.waitForFunction(
      (at) => {
        const m = /^(?:(\d+)m)?([\d.]+)s$/.exec(document.getElementById("elapsed")?.textContent ?? "");
        return m !== null && Number(m[1] ?? 0) * 60 + Number(m[2]) >= at + 1;
      },
      since,
      { timeout: 5_000 },
    );
    expect(origin.stats.bytesServed - served).toBeLessThanOrEqual(4 * 64 * 1024);
    expect(served).toBeLessThan(SIZE);
    expect((await readPage(page)).percent).toBe(paused.percent);

    await page.click("#resume");
    await stateIs(page, "finished", 30_000);
    const end = await readPage(page);
    expect(end.percent).toBe(100);
    expect(end.done).toBe("32.0 MiB of 32.0 MiB");
    expect(end.coverage).toBeCloseTo(100, 3);
    expect(end.notice).toStartWith("Finished:");

    expect(await dlm.done).toBe(EXIT.OK);
    const result = jsonLines(dlm.out.stdout).find((r) => r["type"] === "result");
    expect(result?.["sha256"]).toBe(sha256Of(SIZE, SEED));
    const file = new Bun.CryptoHasher("sha256").update(await Bun.file(join(dir, "dash.bin")).bytes());
    expect(file.digest("hex")).toBe(sha256Of(SIZE, SEED));

    // The token travels only in headers: never in a request line, never in a log record.
    expect(requests.length).toBeGreaterThan(3);
    expect(requests.filter((r) => r.includes(token))).toEqual([]);
    const records = dlm.out.stderr.split("\n").filter((line) => line.startsWith("{"));
    expect(records.length).toBeGreaterThan(3);
    expect(records.filter((line) => line.includes(token))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 55_000);

  describe("without the right token", () => {
    let p: Plane;
    beforeAll(async () => {
      p = await planeFor("http://127.0.0.1:9/never-fetched.bin", dir, "idle.bin");
    });
    afterAll(async () => {
      await p.plane.stop();
    });

    test.each([
      ["#token=wrong", "not authorised", "Wrong or expired access token"],
      ["", "no token", "This page needs the link dlm printed"],
    ])("URL fragment %p: a clear message, not a blank page", async (fragment, state, message) => {
      const page = await context.newPage();
      await page.goto(`${p.plane.http}/${fragment}`);
      await stateIs(page, state);
      const shown = await readPage(page);
      expect(shown.notice).toStartWith(message);
      expect([shown.pauseDisabled, shown.resumeDisabled]).toEqual([true, true]);
      if (fragment !== "") await page.screenshot({ path: join(ARTIFACTS, "dashboard-wrong-token.png") });
      await page.close();
    });

    test("the right token on the same listener connects (the download has not started: probing)", async () => {
      const page = await context.newPage();
      await page.goto(`${p.plane.http}/#token=${p.plane.token}`);
      await stateIs(page, "probing");
      expect((await readPage(page)).notice).toBe("");
      await page.close();
    });
  });
});

/** A second tab on the dashboard at this size and colour scheme, once it shows the download running. */
async function openPage(dashboard: string, width: number, height: number, dark: boolean): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  if (dark) await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(dashboard);
  await stateIs(page, "running");
  return page;
}
