// A timeline of one dlm run on a single-URL paced link of bench/run.ts (uneven by default): each connection
// as the pacer saw it (cap, requests, bytes, first and last body byte) and dlm's engine and worker log
// (segments, steals, slow restarts), on one clock (ms since the spawn). For finding where a run loses time.
//   bun bench/trace-link.ts [--size 128M] [--rate 16M] [--scenario uneven] [-c 16] [--repo DIR] [--perf FILE] [--floor]
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startNginx } from "../test/helpers/nginx.ts";
import { parseBytes } from "./args.ts";
import { ensureFile } from "./files.ts";
import { startPacer } from "./pacer.ts";
import { SCENARIO_IDS, type ScenarioId, scenarios } from "./scenarios.ts";

const MiB = 2 ** 20;
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    size: { type: "string", default: "128M" },
    rate: { type: "string", default: "16M" },
    scenario: { type: "string", default: "uneven" },
    c: { type: "string", short: "c", default: "16" },
    repo: { type: "string", default: resolve(import.meta.dir, "..") },
    perf: { type: "string" },
    floor: { type: "boolean", default: false },
  },
});
const id = values.scenario as ScenarioId;
if (!(SCENARIO_IDS as readonly string[]).includes(id))
  throw new Error(`--scenario: one of ${SCENARIO_IDS.join(",")}`);
const size = parseBytes("--size", values.size);
const file = await ensureFile(join(tmpdir(), "dlm-bench-files"), size);
const root = await mkdtemp(join(tmpdir(), "dlm-trace-link-"));
await symlink(file.path, join(root, "f.bin"));
const nginx = await startNginx(root);
const pacer = await startPacer(`http://127.0.0.1:${nginx.port}`);
try {
  pacer.configure(scenarios({ rateBytesPerSec: parseBytes("--rate", values.rate), latencyMs: 50 })[id].mode);
  const run = pacer.reset();
  const out = join(root, "out.bin");
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const child = Bun.spawn(
    [
      // --perf FILE: the run under `perf record` (per-thread CPU: `perf report -i FILE --sort comm,dso`).
      ...(values.perf === undefined
        ? []
        : ["perf", "record", "-F", "1999", "-o", resolve(values.perf), "--"]),
      process.execPath,
      // --floor: the Bun floor (bench/floor-ranged.ts) on the same link, for its CPU and profile.
      ...(values.floor
        ? ["bench/floor-ranged.ts", pacer.url("f.bin"), out, String(size), values.c]
        : ["src/main.ts", "get", pacer.url("f.bin"), "-o", out, "-c", values.c, "--force"]),
    ],
    {
      cwd: values.repo,
      env: { ...process.env, DLM_LOG: "info,engine=debug,worker=debug", DLM_LOG_FORMAT: "json" },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [stderr] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  const wall = performance.now() - t0;
  await pacer.settle(2000);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `wall ${(wall / 1000).toFixed(3)} s, exit ${child.exitCode}, served ${(run.reduce((s, c) => s + c.bytes, 0) / size).toFixed(3)} x size`,
  );
  for (const c of run) {
    const ms = (t: number | undefined) => (t === undefined ? "-" : (t - t0).toFixed(0));
    say(
      `  conn ${c.index}: cap ${((c.capBytesPerSec ?? 0) / MiB).toFixed(1)} MiB/s, ${(c.bytes / MiB).toFixed(2)} MiB, ` +
        `${c.requests} requests, body ${ms(c.firstByteAt)}-${ms(c.lastByteAt)} ms`,
    );
  }
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as { "@timestamp": string; message: string; properties?: object };
      say(
        `${String(Date.parse(r["@timestamp"]) - t0Epoch).padStart(5)} ${r.message} ${JSON.stringify(r.properties ?? {})}`,
      );
    } catch {
      say(line);
    }
  }
} finally {
  await pacer.close();
  await nginx.stop();
  await rm(root, { recursive: true, force: true });
}
