// A/B of peak RSS, CPU and wall at one size without a limit, straight from nginx on loopback, in one run:
// `bun bench/ab-rss.ts [--size 1G] [--reps 5] [--connections 16] --repo DIR...` runs dlm -c N as `bun src/main.ts`
// from this checkout and from each --repo (another checkout with node_modules), beside `floor-ranged.ts N`,
// order alternating per repetition, and prints each run, then medians. Peak RSS is the largest resident set of
// the tool's processes (`/usr/bin/time`, bench/measure.ts). Run it on a quiet machine.

import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startNginx } from "../test/helpers/nginx.ts";
import { parseBytes } from "./args.ts";
import { ensureFile } from "./files.ts";
import { startPacer } from "./pacer.ts";
import { runOnce } from "./run-once.ts";
import { scenarios } from "./scenarios.ts";
import { TOOLS, type Tool } from "./tools.ts";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    size: { type: "string", default: "1G" },
    reps: { type: "string", default: "5" },
    repo: { type: "string", multiple: true, default: [] },
    connections: { type: "string", default: "16" },
  },
});
const size = parseBytes("--size", values.size);
const reps = Math.max(1, Number(values.reps));
const n = values.connections;
const tool = (id: string): Tool => {
  const t = TOOLS.find((x) => x.id === id);
  if (t === undefined) throw new Error(`bench/tools.ts has no ${id}`);
  return t;
};
const withConnections = (base: Tool, label: string, repo: string) => ({
  ...base,
  label,
  repo,
  argv: (input: Parameters<Tool["argv"]>[0]) =>
    base.argv(input).map((arg, i, all) => (all[i - 1] === "-c" ? n : arg)),
});
const gitHead = (repo: string) =>
  Bun.spawnSync(["git", "-C", repo, "rev-parse", "--short", "HEAD"]).stdout.toString().trim();
const floor = tool("bun-ranged16");
const rows = [
  withConnections(tool("dlm16"), `dlm -c ${n} ${gitHead(REPO)} (this)`, REPO),
  ...values.repo.map((r) =>
    withConnections(tool("dlm16"), `dlm -c ${n} ${gitHead(resolve(r))} (${basename(r)})`, resolve(r)),
  ),
  {
    ...floor,
    label: `floor-ranged.ts ${n}`,
    repo: REPO,
    argv: (input: Parameters<Tool["argv"]>[0]) => [...floor.argv(input).slice(0, -1), n],
  },
];

const file = await ensureFile(join(tmpdir(), "dlm-bench-files"), size);
const root = await mkdtemp(join(tmpdir(), "dlm-abrss-root-"));
const work = await mkdtemp(join(tmpdir(), "dlm-abrss-out-"));
await symlink(file.path, join(root, "f.bin"));
const nginx = await startNginx(root);
const pacer = await startPacer(`http://127.0.0.1:${nginx.port}`);
const scenario = scenarios({ rateBytesPerSec: 16 << 20, latencyMs: 50 }).unthrottled;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const stats = new Map<string, { rss: number[]; cpu: number[]; wall: number[] }>();
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const row of rep % 2 === 0 ? rows : [...rows].reverse()) {
      const out = join(work, "out.bin");
      const r = await runOnce(row, {
        scenario,
        file,
        url: nginx.url("f.bin"),
        out,
        repo: row.repo,
        pacer,
        accessLog: undefined,
        timeoutMs: 120_000,
      });
      if (!r.ok) {
        process.stdout.write(`${row.label}: FAIL ${r.failure}\n`);
        continue;
      }
      const s = stats.get(row.label) ?? { rss: [], cpu: [], wall: [] };
      stats.set(row.label, s);
      s.rss.push(r.peakRssBytes / 2 ** 20);
      s.cpu.push(r.cpuSeconds);
      s.wall.push(r.wallSeconds);
      process.stdout.write(
        `${row.label}: wall ${r.wallSeconds.toFixed(2)} s, cpu ${r.cpuSeconds.toFixed(2)} s, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`,
      );
    }
  }
} finally {
  await pacer.close();
  await nginx.stop();
  await rm(work, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
}
process.stdout.write(
  `\n${values.size} unthrottled, medians of ${reps}\n| tool | wall s | CPU s | peak RSS MiB (each run) |\n| --- | ---: | ---: | ---: |\n`,
);
for (const [label, s] of stats)
  process.stdout.write(
    `| ${label} | ${median(s.wall).toFixed(2)} | ${median(s.cpu).toFixed(2)} | ${median(s.rss).toFixed(0)} (${s.rss.map((x) => x.toFixed(0)).join(", ")}) |\n`,
  );
