// Measures what the manager's dashboard costs a `dlm serve` daemon with 1,000 queued downloads and 3 running
// (throttled by the test origin so they keep running): the daemon's CPU seconds over a window and its RSS,
// with no page open, with one page open on the list, and with the page's detail view open on a running
// download; and the page's own main-thread time (Chrome's TaskDuration: scripts, style, layout, paint) in
// the same windows, the browser's side of the bill. Windows are interleaved (none, list, detail, none, list, detail...) and each figure is the median.
// The page loads while no window runs (its first snapshot of 1,000 downloads is measured apart: time to the
// first drawn page and the daemon CPU it took).
// Not a test (nothing asserted): `bun test/dashboard/measure-manager-cost.ts [DOWNLOADS] [WINDOW_S] [ROUNDS]`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CDPSession, chromium, type Page } from "playwright-core";
import { startOrigin } from "../helpers/origin.ts";
import { startServe, stopServe } from "../serve/serve-fixture.ts";

const DOWNLOADS = Number(process.argv[2] ?? 1000);
const WINDOW_S = Number(process.argv[3] ?? 20);
const ROUNDS = Number(process.argv[4] ?? 3);

/** utime + stime of `pid` in seconds, from /proc (clock ticks of 10 ms). */
async function cpuOf(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** VmRSS of `pid` in MiB. */
async function rssOf(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

const root = await mkdtemp(join(tmpdir(), "dlm-manager-cost-"));
const origin = await startOrigin();
// Big and slow: the three running downloads last far longer than the measurement.
const url = origin.serve("/slow.bin", { size: 4 * 1024 ** 3, throttleBytesPerSec: 128 * 1024 });
const home = join(root, "home");
const dir = join(root, "dir");
await Bun.write(join(dir, ".keep"), "");
const serve = await startServe(home, dir, ["--max-active", "3"]);
const pid = serve.child.pid;
for (let i = 0; i < DOWNLOADS; i += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, DOWNLOADS - i) }, (_, j) =>
      serve.client.add({ url, output: `f${i + j}.bin`, connections: 2, labels: [`batch${(i + j) % 10}`] }),
    ),
  );
}
const running = async () =>
  (await serve.client.list({})).downloads.filter((d) => d.state === 2 /* RUNNING */).map((d) => d.id);
while ((await running()).length < 3) await Bun.sleep(100);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const dashboard = `${serve.http}/#token=${encodeURIComponent(serve.token)}`;

async function openPage(): Promise<{ page: Page; loadMs: number; loadCpu: number }> {
  const cpu = await cpuOf(pid);
  const start = performance.now();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard);
  await page.waitForFunction(
    (n) => document.getElementById("page-info")?.textContent?.endsWith(`of ${n}`) === true,
    DOWNLOADS,
    { timeout: 60_000 },
  );
  return { page, loadMs: performance.now() - start, loadCpu: (await cpuOf(pid)) - cpu };
}

/** The page's main-thread time (scripts, style, layout, paint) so far, seconds, from Chrome's own counters. */
async function pageBusy(cdp: CDPSession | undefined): Promise<number> {
  if (cdp === undefined) return 0;
  const { metrics } = await cdp.send("Performance.getMetrics");
  return metrics.find((m) => m.name === "TaskDuration")?.value ?? 0;
}

/** What one window cost: the daemon's CPU and RSS, and the page's main-thread share (0 without a page). */
interface WindowCost {
  cpuPercent: number;
  rss: number;
  pagePercent: number;
}

async function window(page?: CDPSession): Promise<WindowCost> {
  const cpu = await cpuOf(pid);
  const busy = await pageBusy(page);
  const start = performance.now();
  await Bun.sleep(WINDOW_S * 1000);
  const seconds = (performance.now() - start) / 1000;
  return {
    cpuPercent: (((await cpuOf(pid)) - cpu) / seconds) * 100,
    rss: await rssOf(pid),
    pagePercent: (((await pageBusy(page)) - busy) / seconds) * 100,
  };
}

const results: Record<"none" | "list" | "detail", WindowCost[]> = {
  none: [],
  list: [],
  detail: [],
};
const loads: { loadMs: number; loadCpu: number }[] = [];
for (let round = 0; round < ROUNDS; round++) {
  results.none.push(await window());
  const { page, loadMs, loadCpu } = await openPage();
  loads.push({ loadMs, loadCpu });
  await Bun.sleep(2000);
  // The page's Performance domain counts its main-thread time from here on.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  results.list.push(await window(cdp));
  // Open the first running download's detail (segments and connection rates at 4 Hz).
  await page.selectOption("#filter-state", "2");
  await page.click("#rows tr .c-name button");
  await page.waitForFunction(() => document.querySelectorAll("#map .seg").length > 0, undefined, {
    timeout: 20_000,
  });
  results.detail.push(await window(cdp));
  await cdp.detach();
  await page.close();
  await Bun.sleep(2000);
}

const line = (name: string, rows: WindowCost[]) =>
  `${name.padEnd(28)} ${median(rows.map((r) => r.cpuPercent))
    .toFixed(1)
    .padStart(8)} % ${median(rows.map((r) => r.rss))
    .toFixed(0)
    .padStart(8)} MiB ${median(rows.map((r) => r.pagePercent))
    .toFixed(1)
    .padStart(8)} %`;
console.log(`dlm serve with ${DOWNLOADS} downloads (3 running), ${WINDOW_S} s windows, median of ${ROUNDS}:`);
console.log(
  `${"".padEnd(28)} ${"daemon CPU".padStart(10)} ${"RSS".padStart(12)} ${"page main thread".padStart(18)}`,
);
console.log(line("no page", results.none));
console.log(line("one page (list)", results.list));
console.log(line("one page (list + detail)", results.detail));
console.log(
  `page load (snapshot of ${DOWNLOADS} to first drawn page): median ${median(loads.map((l) => l.loadMs)).toFixed(0)} ms, daemon CPU ${median(loads.map((l) => l.loadCpu)).toFixed(2)} s`,
);

await browser.close();
await stopServe(serve);
await origin.close();
await rm(root, { recursive: true, force: true });
