// A timeline of one dlm run of the mirrors scenario (bench/run-mirrors.ts): what each pacer saw of each
// connection (bytes every 100 ms, as the server side sent them) and dlm's engine log (steals, segments, with
// their sources), on one clock (ms since the spawn). For finding where a run loses time against the ideal.
//   bun bench/trace-mirrors.ts [--size 256M] [--argv "extra dlm args"]
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startNginx } from "../test/helpers/nginx.ts";
import { parseBytes } from "./args.ts";
import { ensureFile } from "./files.ts";
import type { PacedConnection, Pacer } from "./pacer.ts";
import { mirrorsIdealSeconds, startMirrorPacers } from "./run-mirrors.ts";

const REPO = resolve(import.meta.dir, "..");
const MiB = 2 ** 20;
const STEP_MS = 100;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { size: { type: "string" }, argv: { type: "string" } },
});
const size = parseBytes("--size", values.size ?? "256M");
const file = await ensureFile(join(tmpdir(), "dlm-bench-files"), size);
const root = await mkdtemp(join(tmpdir(), "dlm-trace-mirrors-"));
await symlink(file.path, join(root, "mirrored.bin"));
const nginx = await startNginx(root);
const pacers: Pacer[] = [];
try {
  pacers.push(...(await startMirrorPacers(nginx.port)));
  const urls = pacers.map((p) => p.url("mirrored.bin"));
  const out = join(root, "out.bin");
  const runs: PacedConnection[][] = pacers.map((p) => p.reset());
  /** [ms, mirror, connection index, bytes so far] */
  const samples: [number, number, number, number][] = [];
  const t0 = performance.now();
  const t0Epoch = Date.now();
  const poll = setInterval(() => {
    const at = performance.now() - t0;
    runs.forEach((run, m) => {
      for (const c of run) samples.push([at, m, c.index, c.bytes]);
    });
  }, STEP_MS / 4);
  const child = Bun.spawn(
    [
      process.execPath,
      "src/main.ts",
      "get",
      urls[0] ?? "",
      "--mirror",
      urls[1] ?? "",
      "--mirror",
      urls[2] ?? "",
      "-o",
      out,
      "-c",
      "12",
      "--force",
      ...(values.argv?.split(" ").filter(Boolean) ?? []),
    ],
    {
      cwd: REPO,
      env: { ...process.env, DLM_LOG: "info,engine=debug", DLM_LOG_FORMAT: "json" },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [stderr] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  const wall = performance.now() - t0;
  clearInterval(poll);
  await Promise.all(pacers.map((p) => p.settle(2000)));
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `wall ${(wall / 1000).toFixed(3)} s, ideal ${mirrorsIdealSeconds(size).toFixed(3)} s, exit ${child.exitCode}`,
  );
  runs.forEach((run, m) => {
    say(`mirror ${m}: ${(run.reduce((s, c) => s + c.bytes, 0) / MiB).toFixed(1)} MiB`);
    for (const c of run) {
      const first = c.firstByteAt === undefined ? "-" : (c.firstByteAt - t0).toFixed(0);
      const last = c.lastByteAt === undefined ? "-" : (c.lastByteAt - t0).toFixed(0);
      say(
        `  conn ${c.index}: ${(c.bytes / MiB).toFixed(2)} MiB, ${c.requests} requests, body ${first}-${last} ms`,
      );
    }
  });
  // Per mirror and step: connections carrying bytes and MiB/s.
  say("ms    | per mirror: active conns / MiB/s in the step");
  const steps = Math.ceil(wall / STEP_MS);
  const at = (m: number, index: number, ms: number): number => {
    let bytes = 0;
    for (const [t, mm, i, b] of samples) if (mm === m && i === index && t <= ms) bytes = b;
    return bytes;
  };
  for (let s = 0; s < steps; s++) {
    const cells = runs.map((run, m) => {
      let active = 0;
      let bytes = 0;
      for (const c of run) {
        const d = at(m, c.index, (s + 1) * STEP_MS) - at(m, c.index, s * STEP_MS);
        if (d > 0) active++;
        bytes += d;
      }
      return `${active} / ${((bytes / MiB) * (1000 / STEP_MS)).toFixed(1).padStart(5)}`;
    });
    say(`${String(s * STEP_MS).padStart(5)} | ${cells.join(" | ")}`);
  }
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const r = JSON.parse(line) as { "@timestamp": string; message: string; properties?: object };
      const ms = Date.parse(r["@timestamp"]) - t0Epoch;
      say(`${String(ms).padStart(5)} ${r.message} ${JSON.stringify(r.properties ?? {})}`);
    } catch {
      say(line);
    }
  }
} finally {
  for (const p of pacers) await p.close();
  await nginx.stop();
  await rm(root, { recursive: true, force: true });
}
