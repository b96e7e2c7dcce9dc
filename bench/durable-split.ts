// Where a large download's time goes: `bun bench/durable-split.ts [--size 1G] [--reps 3] [--repo DIR]...`
// runs dlm -c 16 (this checkout, and each --repo given: an A/B of builds in one run), wget2 and the Bun
// ranged floor (bench/floor-ranged.ts, 16 fetches) against nginx, tools alternating, and prints per run:
// wall, CPU-s, involuntary context switches (preemption by other load: wall varies with them while CPU-s
// stays), dlm's "verified ... ms after the last byte", dirty+writeback pages in the kernel at exit, and how
// long an fdatasync of the output takes right after (what the tool left for the disk: ~0 for dlm, which
// flushes while it downloads; the whole file for wget2 and the floor). Then medians, with "+sync" = wall plus
// that fdatasync: the durable time a tool without fsync would need. Run it on a quiet machine.

import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startNginx } from "../test/helpers/nginx.ts";
import { parseBytes } from "./args.ts";
import { ensureFile, hashFile } from "./files.ts";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    size: { type: "string", default: "1G" },
    reps: { type: "string", default: "3" },
    repo: { type: "string", multiple: true, default: [] },
  },
});
const size = parseBytes("--size", values.size);
const reps = Math.max(1, Number(values.reps));
const file = await ensureFile(join(tmpdir(), "dlm-bench-files"), size);
const root = await mkdtemp(join(tmpdir(), "dlm-split-root-"));
const work = await mkdtemp(join(tmpdir(), "dlm-split-out-"));
await symlink(file.path, join(root, "f.bin"));
const nginx = await startNginx(root);
const url = nginx.url("f.bin");
const out = join(work, "out.bin");
const bun = process.execPath;

interface Tool {
  readonly label: string;
  readonly argv: string[];
  readonly cwd: string;
}
const dlm = (repo: string): Tool => ({
  label: `dlm -c 16 (${repo})`,
  argv: [bun, "src/main.ts", "get", url, "-o", out, "-c", "16", "--quiet", "--force"],
  cwd: repo,
});
const tools: Tool[] = [
  dlm(REPO),
  ...values.repo.map((r) => dlm(resolve(r))),
  { label: "wget2", argv: ["wget2", "--no-config", "-q", "-O", out, url], cwd: REPO },
  {
    label: "bun floor-ranged 16",
    argv: [bun, "bench/floor-ranged.ts", url, out, String(size), "16"],
    cwd: REPO,
  },
];

/** Dirty + Writeback from /proc/meminfo, MiB. */
async function unwritten(): Promise<number> {
  const text = await readFile("/proc/meminfo", "utf8");
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return (kib("Dirty") + kib("Writeback")) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const rows = new Map<string, { wall: number[]; cpu: number[]; synced: number[] }>();
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const tool of rep % 2 === 0 ? tools : [...tools].reverse()) {
      await rm(out, { force: true });
      await rm(`${out}.dlm`, { recursive: true, force: true });
      Bun.spawnSync(["sync"]);
      const started = performance.now();
      const proc = Bun.spawn(tool.argv, {
        cwd: tool.cwd,
        env: { ...process.env, DLM_LOG: "engine=info", DLM_LOG_FORMAT: "json" },
        stdout: "ignore",
        stderr: "pipe",
      });
      const stderr = new Response(proc.stderr).text();
      await proc.exited;
      const wall = (performance.now() - started) / 1000;
      const left = await unwritten();
      const syncStarted = performance.now();
      Bun.spawnSync(["sync", "--data", out]);
      const sync = (performance.now() - syncStarted) / 1000;
      const usage = proc.resourceUsage();
      const cpu = usage === undefined ? Number.NaN : Number(usage.cpuTime.total) / 1e6;
      const verify = /verified \d+ bytes, (\d+) ms after the last byte/.exec(await stderr)?.[1];
      const good = (await hashFile(out).catch(() => ({ sha256: "" }))).sha256 === file.sha256;
      const row = rows.get(tool.label) ?? { wall: [], cpu: [], synced: [] };
      rows.set(tool.label, row);
      row.wall.push(wall);
      row.cpu.push(cpu);
      row.synced.push(wall + sync);
      process.stdout.write(
        `${tool.label}: exit ${proc.exitCode}${good ? "" : " WRONG OUTPUT"}, wall ${wall.toFixed(2)} s, cpu ${cpu.toFixed(2)} s, ` +
          `preempted ${usage?.contextSwitches.involuntary ?? "?"}x, dirty+writeback at exit ${left.toFixed(0)} MiB, ` +
          `fdatasync after ${sync.toFixed(2)} s${verify === undefined ? "" : `, verified ${verify} ms after the last byte`}\n`,
      );
    }
  }
  process.stdout.write("\n| tool | wall | wall + fdatasync | CPU-s |\n| --- | ---: | ---: | ---: |\n");
  for (const [label, row] of rows) {
    process.stdout.write(
      `| ${label} | ${median(row.wall).toFixed(2)} | ${median(row.synced).toFixed(2)} | ${median(row.cpu).toFixed(2)} |\n`,
    );
  }
} finally {
  await nginx.stop();
  await rm(work, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
}
