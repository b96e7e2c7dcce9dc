import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { BrowserContext, Page } from "playwright-core";
import { DownloadState, WatchAllRequestSchema } from "../../src/gen/dlm/v1/download_pb.ts";
import { stateName } from "../../src/interfaces/shared/download-states.ts";
import { ARTIFACTS, CHROMIUM, HAVE_CHROMIUM, launchBrowser } from "../helpers/chromium.ts";
import { tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "../serve/serve-fixture.ts";

// Over 300 lines on purpose: one real `dlm serve` and browser per scenario, each a user's whole session.
// The manager's dashboard in a real browser: Debian's chromium driven by playwright-core against a real
// `dlm serve` (spawned as users run it) fetching from the test origin. Every action goes through the page;
// what the daemon did is checked over connect-node (its own client) and on disk.
const BIG = 64 * 1024 * 1024;
/** Per connection; two connections make the big download last ~32 s unlimited (longer than the test needs). */
const RATE = 1024 * 1024;
const KiB = 1024;

const dirs = tempDirs("dlm-manager-page-");
let origin: Origin;
let context: BrowserContext;
const serves: ServeProcess[] = [];

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  origin = await startOrigin();
  await mkdir(ARTIFACTS, { recursive: true });
  context = await launchBrowser(join(await dirs.fresh(), "profile"), { width: 1280, height: 900 });
});

afterAll(async () => {
  if (!HAVE_CHROMIUM) return;
  await context.close();
  for (const serve of serves) serve.child.kill("SIGKILL");
  await origin.close();
  await dirs.removeAll();
});

async function serve(args: readonly string[] = []): Promise<{ serve: ServeProcess; dir: string }> {
  const dir = await dirs.fresh();
  const s = await startServe(await dirs.fresh(), dir, args);
  serves.push(s);
  return { serve: s, dir };
}

/** A page on the dashboard URL `dlm serve` printed, with its console errors collected. */
async function openDashboard(s: ServeProcess, problems: string[]): Promise<Page> {
  const url = /dlm: dashboard (\S+)/.exec(s.stderr())?.[1];
  expect(url).toBe(`${s.http}/#token=${encodeURIComponent(s.token)}`);
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url ?? "");
  await page.waitForFunction(() => document.getElementById("link")?.textContent === "live");
  return page;
}

/** The rows on screen: name, state, problem line, toggle label. */
function rows(page: Page) {
  return page.$$eval("#rows tr", (trs) =>
    trs.map((tr) => ({
      id: (tr as HTMLElement).dataset["id"] ?? "",
      name: tr.querySelector(".c-name button")?.textContent ?? "",
      state: (tr as HTMLElement).dataset["state"] ?? "",
      problem: tr.querySelector(".problem")?.textContent ?? "",
      toggle: tr.querySelector('[data-action="toggle"]')?.textContent ?? "",
      percent: Number.parseFloat(tr.querySelector(".pct")?.textContent ?? "0"),
    })),
  );
}

const rowState = (page: Page, name: string, state: string, timeout = 20_000) =>
  page.waitForFunction(
    ([n, s]) =>
      [...document.querySelectorAll<HTMLElement>("#rows tr")].some(
        (tr) => tr.querySelector(".c-name button")?.textContent === n && tr.dataset["state"] === s,
      ),
    [name, state] as const,
    { timeout },
  );

const rowButton = (page: Page, name: string, action: string) =>
  page
    .locator("#rows tr", { has: page.locator(".c-name button", { hasText: name }) })
    .locator(`[data-action="${action}"]`);

/** "1.50 MiB/s" → bytes per second. */
function parseRate(text: string): number {
  const m = /^([\d.]+) (B|KiB|MiB|GiB)\/s$/.exec(text.trim());
  if (m === null) return Number.NaN;
  return Number(m[1]) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] as "B"];
}

const HAVE_SS = Bun.which("ss") !== null;
const DROP_TEST = `a dropped stream reconnects with since_seq and catches up on what happened meanwhile${HAVE_SS ? "" : ": skipped, ss (iproute2) is absent"}`;

const SUITE = HAVE_CHROMIUM
  ? "manager dashboard in chromium"
  : `manager dashboard in chromium: skipped, ${CHROMIUM} is absent (apt-get install chromium)`;

describe.skipIf(!HAVE_CHROMIUM)(SUITE, () => {
  test("add three through the form, watch, pause/resume, reorder, limit, failures explained, reload without a gap, remove with files", async () => {
    const big = origin.serve("/big.bin", { size: BIG, seed: 3, throttleBytesPerSec: RATE });
    const missing = origin.serve("/missing.bin", { size: 10, status: 404 });
    const summed = origin.serve("/summed.bin", { size: 64 * KiB, seed: 4 });
    const { serve: s, dir } = await serve(["--max-active", "3"]);
    const problems: string[] = [];
    const page = await openDashboard(s, problems);
    // The token leaves the address bar at once.
    expect(page.url()).toBe(`${s.http}/`);

    // Add: the big one with two connections and a label, then the 404, then a wrong checksum.
    await page.click("#add-panel summary");
    await page.fill("#add-urls", big);
    await page.fill("#add-connections", "2");
    await page.fill("#add-labels", "big, test");
    await page.click("#add-submit");
    await page.waitForFunction(() => document.getElementById("add-result")?.textContent === "1 added");
    await page.fill("#add-labels", "");
    await page.fill("#add-connections", "");
    await page.fill("#add-urls", missing);
    await page.click("#add-submit");
    await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 2);
    await page.fill("#add-urls", summed);
    await page.fill("#add-checksum", `sha256:${"0".repeat(64)}`);
    await page.click("#add-submit");
    await page.waitForFunction(() => document.querySelectorAll("#rows tr").length === 3);
    expect((await rows(page)).map((r) => r.name)).toEqual(["big.bin", "missing.bin", "summed.bin"]);
    // The two failures, explained once each (not "http_status · HTTP 404 · HTTP 404 …"); both offer Retry.
    await rowState(page, "missing.bin", "failed");
    await rowState(page, "summed.bin", "failed");
    const failed = await rows(page);
    const miss = failed.find((r) => r.name === "missing.bin");
    expect(miss?.problem).toBe(`HTTP 404 Not Found for ${missing}`);
    expect(miss?.toggle).toBe("Retry");
    const sum = failed.find((r) => r.name === "summed.bin");
    expect(sum?.problem).toContain("sha256");
    expect(sum?.problem).not.toContain("integrity · ");
    expect(sum?.toggle).toBe("Retry");

    // Progress: the big one runs and its bar advances.
    await rowState(page, "big.bin", "running");
    const first = (await rows(page)).find((r) => r.name === "big.bin")?.percent ?? 0;
    await page.waitForFunction((p) => {
      const tr = [...document.querySelectorAll("#rows tr")].find(
        (t) => t.querySelector(".c-name button")?.textContent === "big.bin",
      );
      return Number.parseFloat(tr?.querySelector(".pct")?.textContent ?? "0") > p + 2;
    }, first);
    const counts = await page.$eval("#counts", (el) => el.textContent ?? "");
    expect(counts).toContain("running1");
    expect(counts).toContain("failed2");

    // Pause and resume from the row.
    await rowButton(page, "big.bin", "toggle").click();
    await rowState(page, "big.bin", "paused");
    expect((await s.client.get({ id: 1n })).download?.state).toBe(DownloadState.PAUSED);
    await rowButton(page, "big.bin", "toggle").click();
    await rowState(page, "big.bin", "running");

    // Reorder: big.bin one down, by keyboard (focus the button, press Enter).
    await rowButton(page, "big.bin", "down").focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      () => document.querySelector("#rows tr:nth-child(2) .c-name button")?.textContent === "big.bin",
    );
    expect((await rows(page)).map((r) => r.name)).toEqual(["missing.bin", "big.bin", "summed.bin"]);
    // The row moved under the keyboard's focus: the focus stays on its button.
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(
      "Move big.bin down",
    );
    // And back up, then down again: the focus follows the moved row's button each time.
    await page.keyboard.press("Shift+Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(
      "Move big.bin up",
    );
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      () => document.querySelector("#rows tr:nth-child(1) .c-name button")?.textContent === "big.bin",
    );
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(
      "Move big.bin up",
    );
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      () => document.querySelector("#rows tr:nth-child(2) .c-name button")?.textContent === "big.bin",
    );
    const listed = await s.client.list({});
    expect(listed.downloads.map((d) => d.url)).toEqual([missing, big, summed]);
    // One Move, not two Updates: no two rows share a position.
    const positions = listed.downloads.map((d) => d.position);
    expect(new Set(positions).size).toBe(positions.length);

    // Drill down: the detail view shows the segment map and the connections of the running download.
    await rowButton(page, "big.bin", "open").click();
    await page.waitForFunction(() => document.querySelectorAll("#map .seg").length >= 2, undefined, {
      timeout: 10_000,
    });
    await page.waitForFunction(() => document.querySelectorAll("#connections li").length === 2);
    expect(await page.$eval("#detail-name", (e) => e.textContent)).toBe("big.bin");
    // Its one source (the URL given) with both connections on it, and the bytes it sent.
    await page.waitForFunction(() =>
      /^#0 127\.0\.0\.1:\d+ [\d.]+ \S+\/s, 2 connections, [\d.]+ \S*B$/.test(
        document.querySelector("#sources li")?.textContent ?? "",
      ),
    );

    // Screenshots with a live download, two failures and the detail open: light, dark, phone. First the
    // connections' rates and a few seconds of chart.
    await page.waitForFunction(
      () =>
        document.getElementById("detail-rate")?.textContent !== "0 B/s" &&
        !document.getElementById("connections")?.textContent?.includes("measuring") &&
        (document.getElementById("chart-line")?.getAttribute("points")?.split(" ").length ?? 0) > 8,
      undefined,
      { timeout: 15_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "manager-dashboard-light.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: join(ARTIFACTS, "manager-dashboard-dark.png"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    // A new tab has its own sessionStorage: it needs the printed URL with the token, as a user's would.
    await phone.goto(`${s.http}/#token=${encodeURIComponent(s.token)}`);
    await phone.waitForFunction(() => document.querySelectorAll("#rows tr").length === 3);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // A few seconds of its own rate chart (a page draws only while it is the visible tab).
    await phone.waitForFunction(
      () => (document.getElementById("global-line")?.getAttribute("points")?.split(" ").length ?? 0) > 8,
      undefined,
      { timeout: 15_000 },
    );
    await phone.screenshot({ path: join(ARTIFACTS, "manager-dashboard-phone.png"), fullPage: true });
    await phone.close();

    // A speed limit on the download: the rate the page shows follows it down.
    await page.fill("#detail-limit", "256K");
    await page.press("#detail-limit", "Enter");
    await page.waitForFunction(
      () => (document.getElementById("detail-limit") as HTMLInputElement).value === "256K",
    );
    expect((await s.client.get({ id: 1n })).download?.speedLimit).toBe(256n * 1024n);
    await page.waitForFunction(
      () => {
        const m = /^([\d.]+) KiB\/s$/.exec(document.getElementById("detail-rate")?.textContent ?? "");
        return m !== null && Number(m[1]) > 200 && Number(m[1]) < 300;
      },
      undefined,
      { timeout: 15_000 },
    );
    const shown = parseRate(await page.$eval("#detail-rate", (e) => e.textContent ?? ""));
    expect(Math.abs(shown - 256 * 1024) / (256 * 1024)).toBeLessThan(0.2);
    // The global limit round-trips through the daemon's counters.
    await page.fill("#global-limit", "4M");
    await page.press("#global-limit", "Enter");
    // Cleared, then written back from the daemon's next stats message.
    await page.evaluate(() => {
      (document.getElementById("global-limit") as HTMLInputElement).value = "";
    });
    await page.waitForFunction(
      () => (document.getElementById("global-limit") as HTMLInputElement).value === "4M",
    );
    expect((await s.client.stats({})).globalSpeedLimit).toBe(4n * 1024n * 1024n);
    // Escape closes the detail and puts the focus back on the row it was opened from.
    await page.keyboard.press("Escape");
    await page.waitForSelector("#detail", { state: "hidden" });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("big.bin");

    // Reload mid-way: the page leaves, the queue changes meanwhile, and the page resumes from its last
    // event (since_seq) without a snapshot and without missing the change.
    const seq = BigInt(await page.evaluate(() => document.body.dataset["seq"] ?? "0"));
    expect(seq).toBeGreaterThan(0n);
    await page.goto("about:blank");
    const late = origin.serve("/late.bin", { size: 1024, seed: 5 });
    await s.client.add({ url: late, startPaused: true });
    await s.client.pause({ selector: { ids: [1n] } });
    const watchRequests: bigint[] = [];
    page.on("request", (r) => {
      if (!r.url().endsWith("/dlm.v1.DownloadService/WatchAll")) return;
      const body = r.postDataBuffer();
      // One Connect envelope: a flags byte, a 4-byte length, then the message.
      if (body !== null) watchRequests.push(fromBinary(WatchAllRequestSchema, body.subarray(5)).sinceSeq);
    });
    await page.goto(`${s.http}/`);
    await rowState(page, "late.bin", "paused");
    await rowState(page, "big.bin", "paused");
    expect(watchRequests[0]).toBe(seq);
    const server = (await s.client.list({})).downloads.map((d) => `${d.id}:${stateName(d.state)}`);
    const shownRows = (await rows(page)).map((r) => `${r.id}:${r.state}`);
    expect(shownRows).toEqual(server);

    // Remove with files: the dialog asks first; "Remove and delete files" deletes the sidecar.
    const sidecar = join(dir, "big.bin.dlm");
    expect(existsSync(sidecar)).toBe(true);
    await rowButton(page, "big.bin", "remove").click();
    await page.waitForSelector("#remove-dialog[open]");
    expect(await page.$eval("#remove-text", (e) => e.textContent)).toContain("Remove big.bin");
    await page.click("#remove-delete");
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#rows .c-name button")].every((b) => b.textContent !== "big.bin"),
    );
    expect(existsSync(sidecar)).toBe(false);
    expect((await s.client.list({})).downloads.map((d) => d.url)).toEqual([missing, summed, late]);
    expect(problems).toEqual([]);
    await page.close();
    await stopServe(s);
  }, 120_000);

  test("a retrying download says why and counts down to its next try; Retry now runs it at once", async () => {
    const flaky = origin.serve("/flaky.bin", { size: 1024, status: 503 });
    // No retries within a run: the first 503 sends it to the queue's retry-later at once.
    const { serve: s } = await serve(["--retries", "0"]);
    const problems: string[] = [];
    const page = await openDashboard(s, problems);
    await page.click("#add-panel summary");
    await page.fill("#add-urls", flaky);
    await page.click("#add-submit");
    await rowState(page, "flaky.bin", "retrying", 30_000);
    const [row] = await rows(page);
    expect(row?.problem).toMatch(
      /^HTTP 503 [^·]* — next try (in [\d.]+s|now) \(\d\d:\d\d:\d\d, attempt 2\)$/,
    );
    expect(row?.toggle).toBe("Retry now");
    const next = (await s.client.get({ id: 1n })).download?.nextTryTime;
    expect(next).toBeDefined();
    // The countdown is drawn from next_try_time by the page's own clock: it changes without a message.
    const seq = await page.evaluate(() => document.body.dataset["seq"]);
    const before = row?.problem ?? "";
    await page.waitForFunction(
      (b) => document.querySelector("#rows tr .problem")?.textContent !== b,
      before,
      { timeout: 5_000 },
    );
    expect(await page.evaluate(() => document.body.dataset["seq"])).toBe(seq);
    // After the next failed try it waits longer (attempt 3); Retry now resets the count and runs it at once.
    await page.waitForFunction(
      () => document.querySelector("#rows tr .problem")?.textContent?.includes("attempt 3"),
      undefined,
      { timeout: 15_000 },
    );
    await rowButton(page, "flaky.bin", "toggle").click();
    await page.waitForFunction(
      () => document.querySelector("#rows tr .problem")?.textContent?.includes("attempt 2"),
      undefined,
      { timeout: 10_000 },
    );
    expect(problems).toEqual([]);
    await page.close();
    await stopServe(s);
  }, 60_000);

  test.skipIf(!HAVE_SS)(
    DROP_TEST,
    async () => {
      const { serve: s } = await serve();
      const problems: string[] = [];
      const page = await openDashboard(s, problems);
      const url = origin.serve("/drop.bin", { size: 1024 });
      await s.client.add({ url, output: "before.bin", startPaused: true });
      await rowState(page, "before.bin", "paused");
      const seq = BigInt(await page.evaluate(() => document.body.dataset["seq"] ?? "0"));
      const watchRequests: bigint[] = [];
      page.on("request", (r) => {
        const body = r.postDataBuffer();
        if (r.url().endsWith("/WatchAll") && body !== null) {
          watchRequests.push(fromBinary(WatchAllRequestSchema, body.subarray(5)).sinceSeq);
        }
      });
      // Cut the browser's connections to the listener (ss -K: the kernel aborts the sockets, as a network
      // drop would); then, while the page waits to reconnect, the queue changes.
      const port = new URL(s.http).port;
      const killed = Bun.spawnSync(["ss", "-K", "dst", "127.0.0.1", "dport", "=", `:${port}`]);
      expect(killed.exitCode).toBe(0);
      await page.waitForFunction(() => document.getElementById("link")?.textContent === "reconnecting");
      expect(await page.$eval("#notice", (e) => e.textContent)).toStartWith("Lost contact with dlm");
      await s.client.add({ url, output: "during.bin", startPaused: true });
      await s.client.resume({ selector: { ids: [1n] } });
      await rowState(page, "during.bin", "paused");
      await rowState(page, "before.bin", "finished");
      await page.waitForFunction(() => document.getElementById("link")?.textContent === "live");
      expect(watchRequests.at(-1)).toBe(seq);
      expect(await page.$eval("#notice", (e) => (e as HTMLElement).hidden)).toBe(true);
      await page.close();
      await stopServe(s);
    },
    60_000,
  );

  test("1,000 downloads: one page of 50 rows in the DOM, pages and filters by state and label", async () => {
    const { serve: s } = await serve(["--max-active", "1"]);
    const url = origin.serve("/many.bin", { size: 1024, seed: 6 });
    // Paused so nothing runs: the test is about the list.
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        s.client.add({ url, output: `f${i}.bin`, startPaused: true, labels: i % 10 === 0 ? ["tenth"] : [] }),
      ),
    );
    const problems: string[] = [];
    const page = await openDashboard(s, problems);
    await page.waitForFunction(() => document.getElementById("page-info")?.textContent === "1–50 of 1000");
    expect(await page.$$eval("#rows tr", (r) => r.length)).toBe(50);
    await page.click("#page-next");
    await page.waitForFunction(() => document.getElementById("page-info")?.textContent === "51–100 of 1000");
    const order = (await s.client.list({})).downloads.map((d) => d.output);
    expect(await page.$eval("#rows tr .c-name button", (e) => e.textContent)).toBe(order[50] ?? "");
    await page.selectOption("#filter-label", "tenth");
    await page.waitForFunction(() => document.getElementById("page-info")?.textContent === "1–50 of 100");
    await page.selectOption("#filter-label", "");
    await page.selectOption("#filter-state", String(DownloadState.RUNNING));
    await page.waitForFunction(() => document.getElementById("page-info")?.textContent === "0–0 of 0");
    // Bulk: select a page, resume it; the page and the daemon agree on the counts.
    await page.selectOption("#filter-state", "");
    await page.check("#select-page");
    // The page redraws on the next animation frame: wait for it rather than read the count at once.
    await page.waitForFunction(
      () => document.getElementById("selected-count")?.textContent === "50 selected",
    );
    const firstPage = (await s.client.list({ pageSize: 50 })).downloads.map((d) => d.id);
    // Bulk remove, keeping the files: the dialog names the count; the 50 leave the page and the daemon.
    await page.click("#bulk-remove");
    await page.waitForSelector("#remove-dialog[open]");
    expect(await page.$eval("#remove-text", (e) => e.textContent)).toStartWith("Remove 50 downloads");
    await page.click("#remove-keep");
    await page.waitForFunction(() => document.getElementById("page-info")?.textContent === "1–50 of 950");
    expect(await page.$eval("#selected-count", (e) => e.textContent)).toBe("0 selected");
    const left = (await s.client.list({})).downloads.map((d) => d.id);
    expect(left.length).toBe(950);
    expect(left.filter((id) => firstPage.includes(id))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
    await stopServe(s);
  }, 90_000);

  test("Move puts a download at a position in one call; the others shift, no two share a position", async () => {
    const { serve: s } = await serve();
    const url = origin.serve("/moved.bin", { size: 1024, seed: 7 });
    for (let i = 1; i <= 5; i++) await s.client.add({ url, output: `m${i}.bin`, startPaused: true });
    const order = async () => (await s.client.list({})).downloads;
    const names = async () => (await order()).map((d) => d.output.replace(/^.*\//, ""));
    const unique = async () => {
      const positions = (await order()).map((d) => d.position);
      expect(new Set(positions).size).toBe(positions.length);
    };
    const fifth = (await order())[4];
    const first = (await order())[0];
    // The last to the top: the four before it shift down one place.
    await s.client.move({ id: fifth?.id ?? 0n, position: first?.position ?? 0n });
    expect(await names()).toEqual(["m5.bin", "m1.bin", "m2.bin", "m3.bin", "m4.bin"]);
    await unique();
    // The top one to the fourth place: the three after it shift up one place.
    const fourth = (await order())[3];
    await s.client.move({ id: fifth?.id ?? 0n, position: fourth?.position ?? 0n });
    expect(await names()).toEqual(["m1.bin", "m2.bin", "m3.bin", "m5.bin", "m4.bin"]);
    await unique();
    // Bad input: one line naming the field; an unknown id is NOT_FOUND.
    const zero = await s.client.move({ id: 1n, position: 0n }).catch((e: unknown) => e);
    expect((zero as ConnectError).code).toBe(Code.InvalidArgument);
    expect((zero as ConnectError).rawMessage).toStartWith("position: expected 1..");
    const huge = await s.client.move({ id: 1n, position: 2n ** 64n - 1n }).catch((e: unknown) => e);
    expect((huge as ConnectError).code).toBe(Code.InvalidArgument);
    const unknown = await s.client.move({ id: 99n, position: 1n }).catch((e: unknown) => e);
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
    // On the page, a row does not move past one of another priority (position cannot do that): it says why.
    await s.client.add({ url, output: "urgent.bin", startPaused: true, priority: 5 });
    const problems: string[] = [];
    const page = await openDashboard(s, problems);
    await rowState(page, "urgent.bin", "paused");
    const before = await names();
    await rowButton(page, "urgent.bin", "down").click();
    await page.waitForFunction(() => document.getElementById("notice")?.hidden === false);
    expect(await page.$eval("#notice", (e) => e.textContent)).toBe(
      "Cannot move urgent.bin past m1.bin: their priorities differ (5 and 0), and priority comes before position in queue order.",
    );
    expect(await names()).toEqual(before);
    expect(problems).toEqual([]);
    await page.close();
    await stopServe(s);
  });

  test("the page's script stays under 200 KB and the files carry the download page's CSP; RPC needs the token", async () => {
    const { serve: s } = await serve();
    const js = await fetch(`${s.http}/dashboard.js`);
    expect(js.status).toBe(200);
    const body = await js.text();
    expect(body.length).toBeLessThan(200 * 1024);
    // Booleans: a failure should not print the whole bundle.
    expect(body.includes("Bearer ")).toBe(true);
    expect(body.includes("https://")).toBe(false);
    const html = await fetch(`${s.http}/`);
    expect(html.headers.get("content-security-policy")).toStartWith("default-src 'self';");
    expect(html.headers.get("x-frame-options")).toBe("DENY");
    // The page is drawn by its script (Preact) into <main>; without the script it says so.
    const shell = await html.text();
    expect(shell).toContain('<main id="app"');
    expect(shell).toContain("<noscript>");
    const rpc = await fetch(`${s.http}/dlm.v1.DownloadService/Stats`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(rpc.status).toBe(401);
    await stopServe(s);
  });
});
