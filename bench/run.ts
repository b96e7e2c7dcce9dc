// Benchmark harness: `bun bench/run.ts [--smoke] [--size 128M,1G] [--reps 3] [--scenarios a,b] [--tools a,b]`.
// See bench/README.md. Exit 0 when every output was correct, 1 when any was wrong, 2 on a bad command line,
// 3 when the harness itself broke.

import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startNginx } from "../test/helpers/nginx.ts";
import { type BenchOptions, BenchUsageError, parseBenchArgs, USAGE } from "./args.ts";
import { BATCH_LEGEND, batchAllOk, batchTable, batchTargets } from "./batch-report.ts";
import { type BenchFile, ensureFile } from "./files.ts";
import { floorTargets } from "./floor-targets.ts";
import { bunStartup, header } from "./header.ts";
import { LIMIT_LEGEND, limitAllOk, limitTable, limitTargets } from "./limit-report.ts";
import { ACCESS_LOG_FORMAT, findAccessLog } from "./nginx-log.ts";
import { startPacer } from "./pacer.ts";
import { defaultTimeoutMs, pickTools, planFor } from "./plan.ts";
import { allOk, LEGEND, type ScenarioResult, scenarioTable, sizeLabel, type ToolRuns } from "./report.ts";
import { runBatches } from "./run-batches.ts";
import { runLimits } from "./run-limits.ts";
import { runOnce } from "./run-once.ts";
import { scenarios } from "./scenarios.ts";
import { targetsTable } from "./targets.ts";

const REPO = resolve(import.meta.dir, "..");
const FILE_CACHE = join(tmpdir(), "dlm-bench-files");
/** Name the file of `size` bytes is served under. */
function servedName(size: number): string {
  return `bench-${size}.bin`;
}

/**
 * Compiles dlm (`bun scripts/build.ts OUT`, as `bun run build` does) for the binary rows, so they always
 * measure this checkout. Returns the path, or undefined (with a note) when the build failed.
 */
async function buildDlm(out: string, say: (line: string) => void): Promise<string | undefined> {
  say(`bench: building the dlm binary into ${out}`);
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", out], {
    cwd: REPO,
    stdout: "ignore",
    stderr: "pipe",
  });
  if (build.exitCode === 0) return out;
  say(
    `bench: bun run build failed, binary rows skipped: ${build.stderr.toString().trim().split("\n").pop()}`,
  );
  return undefined;
}

async function main(options: BenchOptions): Promise<number> {
  const started = new Date();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const files: BenchFile[] = [];
  // Only batch scenarios asked for: no single file to generate (the default 1 GiB takes a while).
  for (const size of options.scenarios.length === 0 ? [] : options.sizes) {
    say(`bench: preparing a ${size}-byte file in ${FILE_CACHE}`);
    files.push(await ensureFile(FILE_CACHE, size));
  }
  const root = await mkdtemp(join(tmpdir(), "dlm-bench-root-"));
  const work = await mkdtemp(join(tmpdir(), "dlm-bench-out-"));
  for (const file of files) await symlink(file.path, join(root, servedName(file.size)));
  const nginx = await startNginx(root, { accessLogFormat: ACCESS_LOG_FORMAT });
  const pacer = await startPacer(`http://127.0.0.1:${nginx.port}`);
  const stop = async () => {
    await pacer.close();
    await nginx.stop();
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    void stop().finally(() => process.exit(130));
  });
  try {
    const dlmBinary = await buildDlm(join(work, "dlm"), say);
    const bunStartSeconds = bunStartup();
    say(`bench: bun -e 0 takes ${bunStartSeconds.toFixed(3)} s`);
    const accessLog = await findAccessLog(nginx.port);
    const table = scenarios({ rateBytesPerSec: options.rateBytesPerSec, latencyMs: options.latencyMs });
    const results: ScenarioResult[] = [];
    for (const [index, file] of files.entries()) {
      const size = sizeLabel(file.size);
      process.stdout.write(`\n## ${size}\n`);
      const plan = planFor(index, options, table);
      for (const id of plan.ids) {
        const scenario = table[id];
        const { tools, notes } = pickTools(scenario, file.size, plan.tools, dlmBinary);
        if (scenario.via === "nginx" && accessLog === undefined)
          notes.push("served/size and first byte unknown: nginx log not found");
        pacer.configure(scenario.mode);
        const rows: ToolRuns[] = tools.map((tool) => ({ tool, runs: [] }));
        const timeoutMs = options.timeoutMs ?? defaultTimeoutMs(scenario, file.size);
        const name = servedName(file.size);
        const url = scenario.via === "nginx" ? nginx.url(name) : pacer.url(name);
        const setup = {
          scenario,
          file,
          url,
          out: join(work, "out.bin"),
          repo: REPO,
          pacer,
          accessLog,
          timeoutMs,
          dlmBinary,
        };
        for (let rep = 0; rep < options.reps; rep++) {
          // Alternate the order, so no tool always runs first on a cold cache or last on a hot machine.
          const order = rep % 2 === 0 ? rows : [...rows].reverse();
          for (const row of order) {
            const result = await runOnce(row.tool, setup);
            row.runs.push(result);
            const shown = result.ok ? `${result.wallSeconds.toFixed(2)} s ok` : `FAIL ${result.failure}`;
            say(`bench: [${size} ${id} ${rep + 1}/${options.reps}] ${row.tool.label}: ${shown}`);
          }
        }
        const result: ScenarioResult = { scenario, sizeBytes: file.size, rows, notes };
        results.push(result);
        process.stdout.write(`\n${scenarioTable(result)}\n`);
      }
    }
    const batches = await runBatches({
      scenarios: options.batchScenarios,
      count: options.batchFiles,
      size: options.batchSize,
      reps: options.reps,
      tools: options.tools,
      latencyMs: options.latencyMs,
      timeoutMs: options.timeoutMs,
      cacheDir: FILE_CACHE,
      root,
      work,
      repo: REPO,
      nginxUrl: (path) => nginx.url(path),
      pacer,
      accessLog,
      say,
      dlmBinary,
    });
    const limits = await runLimits({
      rates: options.limitRates,
      seconds: options.limitSeconds,
      reps: options.reps,
      tools: options.tools,
      capBytesPerSec: options.rateBytesPerSec,
      timeoutMs: options.timeoutMs,
      cacheDir: FILE_CACHE,
      root,
      work,
      repo: REPO,
      pacer,
      say,
    });
    const targets = targetsTable(results);
    const batchTarget = batchTargets(batches);
    const limitTarget = limitTargets(limits);
    const floorTarget = floorTargets(results, batches);
    const sections = files.map((file) => [
      `## ${sizeLabel(file.size)}`,
      ...results.filter((r) => r.sizeBytes === file.size).map(scenarioTable),
    ]);
    const batchSection =
      batches.length === 0
        ? []
        : [`## batch: ${options.batchFiles} × ${sizeLabel(options.batchSize)}`, ...batches.map(batchTable)];
    const limitSection = limits.length === 0 ? [] : ["## limit", ...limits.map(limitTable)];
    const legends = [
      results.length === 0 ? [] : LEGEND,
      batches.length === 0 ? [] : BATCH_LEGEND,
      limits.length === 0 ? [] : LIMIT_LEGEND,
    ].flat();
    const report = [
      header(options, started, bunStartSeconds),
      ...sections.flat(),
      batchSection,
      limitSection,
      targets ?? [],
      batchTarget ?? [],
      limitTarget ?? [],
      floorTarget ?? [],
      legends,
    ]
      .flat()
      .join("\n\n");
    const dir = resolve(options.resultsDir ?? join(REPO, "bench", "results"));
    await mkdir(dir, { recursive: true });
    const path = join(
      dir,
      `${started
        .toISOString()
        .replaceAll(":", "-")
        .replace(/\.\d+Z$/, "Z")}.md`,
    );
    await writeFile(path, `${report}\n`);
    for (const table of [targets, batchTarget, limitTarget, floorTarget])
      if (table !== undefined) process.stdout.write(`\n${table}\n`);
    process.stdout.write(`\n${legends.join("\n\n")}\n\nbench: report written to ${path}\n`);
    const failed = [
      ...results.filter((r) => !allOk(r)).map((r) => `${r.scenario.id} ${sizeLabel(r.sizeBytes)}`),
      ...batches.filter((r) => !batchAllOk(r)).map((r) => r.scenario.id),
      ...limits.filter((r) => !limitAllOk(r)).map((r) => `limit ${r.limitBytesPerSec} B/s`),
    ];
    if (failed.length > 0) say(`bench: wrong or missing outputs in: ${failed.join(", ")}`);
    // Only dlm's own failures fail the run: another tool's crash (axel 2.17.11 segfaults now and then,
    // axel#410) says nothing about dlm and must not turn CI red. Its FAIL row stays in the report.
    const dlmFailed = [...results, ...batches, ...limits].some((r) =>
      r.rows.some((row) => row.tool.id.startsWith("dlm") && !row.runs.every((x) => x.ok)),
    );
    return dlmFailed ? 1 : 0;
  } finally {
    await stop();
  }
}

let options: BenchOptions | undefined;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (options === undefined) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const code = await main(options).catch((error: unknown) => {
  process.stderr.write(
    `bench: harness error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 3;
});
process.exit(code);
