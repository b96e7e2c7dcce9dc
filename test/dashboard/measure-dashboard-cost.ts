// Measures what an open dashboard costs the dlm process: a loopback download from nginx (sparse file, output
// in /dev/shm) with and without the page open in chromium, runs interleaved, medians reported. Each run
// pauses the download once it runs, opens the page (or not) while paused, waits 2 s, then resumes, so the page
// watches the whole transfer; CPU is the dlm process's user+system seconds from the resume to its exit (and
// the same for all chromium processes together).
// Not a test (nothing asserted): `bun test/dashboard/measure-dashboard-cost.ts [SIZE_MIB] [RUNS]`.
import { mkdir, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { waitFor } from "../control/fixture.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../helpers/chromium.ts";
import { BUN_BIN, MAIN_TS } from "../helpers/cli.ts";
import { startNginx } from "../helpers/nginx.ts";

const SIZE = Number(process.argv[2] ?? 1024) * 1024 * 1024;
const RUNS = Number(process.argv[3] ?? 3);
const root = "/dev/shm/dlm-dashboard-cost";
await rm(root, { recursive: true, force: true });
await mkdir(join(root, "www"), { recursive: true });
await writeFile(join(root, "www", "big.bin"), "");
await truncate(join(root, "www", "big.bin"), SIZE);
const nginx = await startNginx(join(root, "www"));
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

/** utime + stime of `pid` in seconds, from /proc (clock ticks of 10 ms). */
async function cpuOf(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of every chromium process (browser, renderer, GPU, network...). */
async function chromiumCpu(): Promise<number> {
  let total = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await Bun.file(`/proc/${entry}/cmdline`)
      .text()
      .catch(() => "");
    if (cmdline.startsWith("/usr/lib/chromium/")) total += await cpuOf(Number(entry)).catch(() => 0);
  }
  return total;
}

interface Sample {
  readonly mibPerSecond: number;
  readonly cpuSeconds: number;
  readonly chromiumSeconds: number;
  readonly cpuPerGiB: number;
  readonly exitAfterResultMs: number;
}

async function once(withPage: boolean): Promise<Sample> {
  const child = Bun.spawn(
    [
      BUN_BIN,
      MAIN_TS,
      "get",
      nginx.url("/big.bin"),
      "-o",
      "out.bin",
      "-c",
      "8",
      "--json",
      "--quiet",
      "--listen",
      "0",
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  let stdout = "";
  let resultAt = 0;
  const stderr = new Response(child.stderr).text();
  const pumped = (async () => {
    for await (const chunk of child.stdout) {
      stdout += new TextDecoder().decode(chunk);
      if (resultAt === 0 && stdout.includes('"type":"result"')) resultAt = performance.now();
    }
  })();
  await waitFor("control record", () => stdout.includes('"type":"control"'), 15_000).catch(async (error) => {
    throw new Error(`${(error as Error).message}: ${await stderr}`);
  });
  const control = JSON.parse(stdout.split("\n").find((l) => l.includes('"type":"control"')) ?? "{}");
  const token = new URL(control.dashboard).hash.slice("#token=".length);
  const headers = { authorization: `Bearer ${token}` };
  const status = async () =>
    (await (await fetch(`${control.http}/status`, { headers })).json()) as {
      state: string;
      bytesDownloaded: number;
    };
  // Pause once running, so every run pauses at the same point (a few MiB in).
  while ((await status()).state === "probing") await Bun.sleep(1);
  await fetch(`${control.http}/pause`, { method: "POST", headers });
  let paused = await status().catch(async (error) => {
    throw new Error(
      `GET /status after pause: ${(error as Error).message}; dlm said: ${await stderr}${stdout}`,
    );
  });
  while (paused.state !== "paused") {
    await Bun.sleep(20);
    paused = await status();
  }
  const page = withPage ? await browser.newPage({ viewport: { width: 1100, height: 820 } }) : undefined;
  if (page !== undefined) {
    await page.goto(control.dashboard);
    await page.waitForFunction(() => document.getElementById("state")?.textContent === "paused");
  }
  // Let the page finish starting (script compile, first layout) in both cases, so only the live updates count.
  await Bun.sleep(2000);
  const chromiumBefore = await chromiumCpu();
  const cpuBefore = await cpuOf(child.pid);
  const resumedAt = performance.now();
  await fetch(`${control.http}/resume`, { method: "POST", headers });
  await child.exited;
  const exitedAt = performance.now();
  const chromiumSeconds = (await chromiumCpu()) - chromiumBefore;
  await pumped;
  const usage = child.resourceUsage();
  const cpuTotal = usage === undefined ? Number.NaN : Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6;
  await page?.close();
  await rm(join(root, "out.bin"), { force: true });
  const bytes = SIZE - paused.bytesDownloaded;
  const cpuSeconds = cpuTotal - cpuBefore;
  return {
    mibPerSecond: bytes / 1024 / 1024 / ((resultAt - resumedAt) / 1000),
    cpuSeconds,
    chromiumSeconds,
    cpuPerGiB: cpuSeconds / (bytes / 1024 ** 3),
    exitAfterResultMs: exitedAt - resultAt,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
const results: Record<"without" | "with", Sample[]> = { without: [], with: [] };
try {
  await once(false); // warm-up: page cache, Bun's transpile cache, chromium's first start
  for (let run = 0; run < RUNS; run++) {
    results.without.push(await once(false));
    results.with.push(await once(true));
  }
} finally {
  await browser.close();
  await nginx.stop();
  await rm(root, { recursive: true, force: true });
}
console.log(`dlm get -c 8, ${SIZE / 1024 / 1024} MiB from nginx on loopback to /dev/shm, ${RUNS} runs each`);
for (const [name, samples] of Object.entries(results)) {
  const rows = samples
    .map((s) => `${s.mibPerSecond.toFixed(0)} MiB/s ${s.cpuSeconds.toFixed(2)} s`)
    .join(" | ");
  console.log(
    `${name.padEnd(8)} dashboard: median ${median(samples.map((s) => s.mibPerSecond)).toFixed(0)} MiB/s, ` +
      `CPU ${median(samples.map((s) => s.cpuSeconds)).toFixed(2)} s (${median(samples.map((s) => s.cpuPerGiB)).toFixed(2)} s/GiB), ` +
      `chromium CPU ${median(samples.map((s) => s.chromiumSeconds)).toFixed(2)} s, ` +
      `exit ${median(samples.map((s) => s.exitAfterResultMs)).toFixed(0)} ms after the result   [${rows}]`,
  );
}
