// A/B of dlm builds on the paced links, in one run: `bun bench/ab-paced.ts [--size 128M] [--rate 16M]
// [--scenarios uneven,throttled] [--reps 3] [--repo DIR]... [--tools axel,aria2c] [--conns]` runs dlm -c 16
// from this checkout and from each --repo (another checkout, e.g. `git worktree add /tmp/old-X COMMIT` with
// node_modules copied in), beside the listed anchor tools, against nginx behind bench/pacer.ts, order
// alternating per repetition, and prints per run: wall, CPU-s, the pacer's CPU-s (the harness's, less its own
// SHA-256 of the output), served/size, the ideal of the connections the
// run got, and how long after the file's last byte the slowest connection's last byte left the pacer; then
// medians. --conns prints each dlm run's connections (cap, requests, bytes, first and last body byte after
// spawn). So "did dlm get slower, or the machine?" is answered by old and new builds timed side by side.
// Run it on a quiet machine (bench/README.md).

import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startNginx } from "../test/helpers/nginx.ts";
import { parseBytes } from "./args.ts";
import { ensureFile } from "./files.ts";
import { type PacedConnection, startPacer } from "./pacer.ts";
import { runOnce } from "./run-once.ts";
import { SCENARIO_IDS, type ScenarioId, scenarios } from "./scenarios.ts";
import { TOOLS, type Tool } from "./tools.ts";

const REPO = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    size: { type: "string", default: "128M" },
    rate: { type: "string", default: "16M" },
    scenarios: { type: "string", default: "uneven,throttled" },
    reps: { type: "string", default: "3" },
    repo: { type: "string", multiple: true, default: [] },
    tools: { type: "string", default: "axel,aria2c" },
    connections: { type: "string", default: "16" },
    conns: { type: "boolean", default: false },
  },
});
const size = parseBytes("--size", values.size);
const rate = parseBytes("--rate", values.rate);
const reps = Math.max(1, Number(values.reps));
const ids = values.scenarios
  .split(",")
  .filter((s): s is ScenarioId => (SCENARIO_IDS as readonly string[]).includes(s));
const anchors = values.tools
  .split(",")
  .filter((s) => s !== "")
  .map((id) => TOOLS.find((t) => t.id === id))
  .filter((t): t is Tool => t !== undefined);

/** dlm -c N run as `bun src/main.ts` from `repo` (the harness passes that repo as the run's cwd). */
function dlmFrom(repo: string, label: string): Tool & { readonly repo: string } {
  const base = TOOLS.find((t) => t.id === "dlm16");
  if (base === undefined) throw new Error("bench/tools.ts has no dlm16");
  const n = values.connections;
  return {
    ...base,
    label: `dlm -c ${n} ${label}`,
    repo,
    argv: (input) => base.argv(input).map((arg, i, all) => (all[i - 1] === "-c" ? n : arg)),
  };
}
const gitHead = (repo: string) =>
  Bun.spawnSync(["git", "-C", repo, "rev-parse", "--short", "HEAD"]).stdout.toString().trim();
const rows = [
  dlmFrom(REPO, `${gitHead(REPO)} (this)`),
  ...values.repo.map((r) => dlmFrom(resolve(r), `${gitHead(resolve(r))} (${basename(r)})`)),
  ...anchors.map((t) => ({ ...t, repo: REPO })),
];

const file = await ensureFile(join(tmpdir(), "dlm-bench-files"), size);
const root = await mkdtemp(join(tmpdir(), "dlm-ab-root-"));
const work = await mkdtemp(join(tmpdir(), "dlm-ab-out-"));
await symlink(file.path, join(root, "f.bin"));
const nginx = await startNginx(root);
const pacer = await startPacer(`http://127.0.0.1:${nginx.port}`);
const table = scenarios({ rateBytesPerSec: rate, latencyMs: 50 });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const f2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(2));

try {
  for (const id of ids) {
    const scenario = table[id];
    pacer.configure(scenario.mode);
    const stats = new Map<
      string,
      { wall: number[]; cpu: number[]; pacer: number[]; served: number[]; ideal: number[]; tail: number[] }
    >();
    for (let rep = 0; rep < reps; rep++) {
      for (const tool of rep % 2 === 0 ? rows : [...rows].reverse()) {
        const out = join(work, "out.bin");
        let connections: PacedConnection[] = [];
        const setup = {
          scenario,
          file,
          url: pacer.url("f.bin"),
          out,
          repo: tool.repo,
          // runOnce resets the pacer; keep the list that reset starts, to read the run's connections after.
          pacer: {
            ...pacer,
            reset: () => {
              connections = pacer.reset();
              return connections;
            },
          },
          accessLog: undefined,
          timeoutMs: 30_000 + ((4 * size) / rate) * 1000,
        };
        const spawned = performance.now();
        const harnessCpu = process.cpuUsage();
        const result = await runOnce(tool, setup);
        const harness = process.cpuUsage(harnessCpu);
        if (!result.ok) {
          process.stdout.write(`${id} ${tool.label}: FAIL ${result.failure}\n`);
          continue;
        }
        const lasts = connections.map((c) => c.lastByteAt ?? Number.NEGATIVE_INFINITY);
        const last = Math.max(...lasts);
        // When the fast connections were done: the last byte of the last full-cap connection.
        const fastLast = Math.max(
          ...connections
            .filter((c) => c.capBytesPerSec === rate)
            .map((c) => c.lastByteAt ?? Number.NEGATIVE_INFINITY),
        );
        const tail = (last - fastLast) / 1000;
        // The harness's CPU over the run is the pacer's, plus its own SHA-256 of the output afterwards (about
        // that hash's wall time: one thread, Bun.CryptoHasher): what the pacer needed beside the tool.
        const pacerCpu = (harness.user + harness.system) / 1e6 - result.hashSeconds;
        const s = stats.get(tool.label) ?? { wall: [], cpu: [], pacer: [], served: [], ideal: [], tail: [] };
        stats.set(tool.label, s);
        s.wall.push(result.wallSeconds);
        s.cpu.push(result.cpuSeconds);
        s.pacer.push(pacerCpu);
        s.served.push((result.servedBytes ?? Number.NaN) / size);
        s.ideal.push(result.ideal?.seconds ?? Number.NaN);
        s.tail.push(tail);
        process.stdout.write(
          `${id} ${tool.label}: wall ${f2(result.wallSeconds)} s, cpu ${f2(result.cpuSeconds)} s (pacer ${f2(pacerCpu)}), served/size ${((result.servedBytes ?? 0) / size).toFixed(3)}, ` +
            `ideal ${f2(result.ideal?.seconds)} s, first byte ${f2(result.firstByteSeconds)} s, slow tail after the fast ones ${f2(tail)} s, ` +
            `${connections.length} connections\n`,
        );
        if (values.conns && tool.label.startsWith("dlm")) {
          for (const c of connections) {
            const at = (t: number | undefined) => (t === undefined ? "-" : ((t - spawned) / 1000).toFixed(3));
            process.stdout.write(
              `    #${c.index} cap ${((c.capBytesPerSec ?? 0) / 2 ** 20).toFixed(1)} MiB/s, ${c.requests} req, ` +
                `${(c.bytes / 2 ** 20).toFixed(2)} MiB, body ${at(c.firstByteAt)} .. ${at(c.lastByteAt)} s\n`,
            );
          }
        }
      }
    }
    process.stdout.write(
      `\n${id}, ${values.size}, rate ${values.rate}: medians of ${reps}\n| tool | wall s | CPU s | pacer CPU s | served/size | ideal s | slow tail s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n`,
    );
    for (const [label, s] of stats) {
      process.stdout.write(
        `| ${label} | ${f2(median(s.wall))} | ${f2(median(s.cpu))} | ${f2(median(s.pacer))} | ${median(s.served).toFixed(3)} | ${f2(median(s.ideal))} | ${f2(median(s.tail))} |\n`,
      );
    }
    process.stdout.write("\n");
  }
} finally {
  await pacer.close();
  await nginx.stop();
  await rm(work, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
}
