// Measures the control plane against a real `dlm get --listen` at full loopback speed (nginx origin):
//   1. time from POST /pause to the last worker stopping (activeConnections 0 in GET /status), 5 pauses;
//   2. GET /status latency (median, p99) while the download runs at full speed;
//   3. download throughput with 0 and with 200 Watch streams attached (connect-node over h2c), as a ratio.
// Not a test (nothing asserted): run `bun test/control/measure-control-plane.ts [SIZE_MIB]` and read stdout.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BUN_BIN, MAIN_TS } from "../helpers/cli.ts";
import { startNginx } from "../helpers/nginx.ts";
import { connectWatch, type WatchOutcome } from "./watch-clients.ts";

const SIZE = Number(process.argv[2] ?? 2048) * 1024 * 1024;
const root = await mkdtemp(join(tmpdir(), "dlm-measure-"));
const served = join(root, "www");
await Bun.$`mkdir -p ${served}`;
await writeFile(join(served, "big.bin"), "");
await truncate(join(served, "big.bin"), SIZE);
const nginx = await startNginx(served);
const url = nginx.url("/big.bin");
let run = 0;

interface Control {
  http: string;
  rpc: string;
  token: string;
}

async function startGet() {
  const name = `out-${run++}.bin`;
  const child = Bun.spawn(
    [BUN_BIN, MAIN_TS, "get", url, "-o", name, "-c", "8", "--json", "--quiet", "--listen", "0"],
    {
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const stdout = new Response(child.stdout).text();
  const controlFile = join(root, `${name}.dlm`, "control.json");
  while (!existsSync(controlFile)) await Bun.sleep(2);
  const control = JSON.parse(await readFile(controlFile, "utf8")) as Control;
  const finished = child.exited.then(async (code) => {
    const lines = (await stdout).split("\n").filter((l) => l.startsWith("{"));
    const result = lines.map((l) => JSON.parse(l)).find((r) => r.type === "result");
    await rm(join(root, name), { force: true });
    const usage = child.resourceUsage();
    const cpuSeconds =
      usage === undefined ? Number.NaN : Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6;
    return {
      code,
      bytesPerSecond: Number(result?.bytesPerSecond ?? Number.NaN),
      seconds: Number(result?.seconds),
      cpuSeconds,
    };
  });
  return { control, finished };
}

const headers = (c: Control) => ({ authorization: `Bearer ${c.token}` });
const status = async (c: Control) =>
  (await (await fetch(`${c.http}/status`, { headers: headers(c) })).json()) as Record<
    string,
    number | string
  >;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
const mib = (bps: number) => `${(bps / 1024 / 1024).toFixed(0)} MiB/s`;

// 1. Pause latency.
{
  const { control, finished } = await startGet();
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(400);
    const before = await status(control);
    if (before["state"] !== "running") break;
    const t0 = performance.now();
    await fetch(`${control.http}/pause`, { method: "POST", headers: headers(control) });
    while ((await status(control))["activeConnections"] !== 0) await Bun.sleep(1);
    latencies.push(performance.now() - t0);
    await fetch(`${control.http}/resume`, { method: "POST", headers: headers(control) });
  }
  await fetch(`${control.http}/cancel`, { method: "POST", headers: headers(control) });
  await finished;
  console.log(`pause -> last worker stopped (ms): ${latencies.map((l) => l.toFixed(1)).join(", ")}`);
}

// 2. GET /status latency during a full-speed download.
{
  const { control, finished } = await startGet();
  const latencies: number[] = [];
  let done = false;
  void finished.then(() => {
    done = true;
  });
  while (!done) {
    const t0 = performance.now();
    try {
      const s = await status(control);
      if (s["state"] === "running") latencies.push(performance.now() - t0);
    } catch {
      break;
    }
    await Bun.sleep(5);
  }
  const result = await finished;
  latencies.sort((a, b) => a - b);
  console.log(
    `GET /status during download at ${mib(result.bytesPerSecond)}: n=${latencies.length} median ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms`,
  );
}

// 3. Throughput with 0 and 200 watchers, alternating.
const rates: Record<string, number[]> = { "0": [], "200": [] };
for (let round = 0; round < 3; round++) {
  for (const watchers of [0, 200]) {
    const cpuBefore = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    const { control, finished } = await startGet();
    const streams: Promise<WatchOutcome>[] = [];
    const transports = Array.from({ length: 4 }, () =>
      createConnectTransport({ baseUrl: control.rpc, httpVersion: "2" }),
    );
    for (let i = 0; i < watchers; i++) streams.push(connectWatch(transports[i % 4]!, control.token));
    const result = await finished;
    const outcomes = await Promise.all(streams);
    const ok = outcomes.filter((o) => o.code === "ok" && o.messages.at(-1)?.bytes === SIZE).length;
    rates[String(watchers)]!.push(result.bytesPerSecond);
    const gib = SIZE / 1024 ** 3;
    const cpuAfter = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    console.log(
      `round ${round}: ${watchers} watchers: ${mib(result.bytesPerSecond)} in ${result.seconds} s, dlm CPU ${(result.cpuSeconds / gib).toFixed(2)} s/GiB, watchers' process CPU ${(cpuAfter - cpuBefore).toFixed(2)} s (${ok}/${watchers} watchers saw the end)`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(
  `throughput (median of rounds): 0 watchers ${mib(median(rates["0"]!))}, 200 watchers ${mib(median(rates["200"]!))}, ratio ${(median(rates["200"]!) / median(rates["0"]!)).toFixed(3)}`,
);

await nginx.stop();
await rm(root, { recursive: true, force: true });
