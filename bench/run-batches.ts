import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { ensureBatchSet } from "./batch-files.ts";
import { type BatchResult, type BatchToolRuns, batchTable } from "./batch-report.ts";
import { type BatchSetup, runBatchOnce } from "./batch-run.ts";
import { BATCH_TOOLS, batchToolInstalled } from "./batch-tools.ts";
import type { AccessLog } from "./nginx-log.ts";
import type { Pacer } from "./pacer.ts";
import { sizeLabel } from "./report.ts";
import { type BatchScenarioId, batchScenarios } from "./scenarios.ts";

/** What the batch runs share with the rest of the bench. */
export interface BatchContext {
  readonly scenarios: readonly BatchScenarioId[];
  readonly count: number;
  readonly size: number;
  readonly reps: number;
  /** Tool ids given with --tools, or undefined for every batch tool. */
  readonly tools: readonly string[] | undefined;
  readonly latencyMs: number;
  readonly timeoutMs: number | undefined;
  /** The bench file cache, nginx's root, and a scratch directory of this run. */
  readonly cacheDir: string;
  readonly root: string;
  readonly work: string;
  readonly repo: string;
  readonly nginxUrl: (path: string) => string;
  readonly pacer: Pacer;
  readonly accessLog: AccessLog | undefined;
  readonly say: (line: string) => void;
  /** The compiled dlm of this run; undefined: its row is skipped with a note. */
  readonly dlmBinary?: string | undefined;
}

/** Bound on one batch run: 60 s plus the whole list at 10 MB/s, plus one latency per file. */
function batchTimeoutMs(count: number, size: number, latencyMs: number): number {
  return 60_000 + ((count * size) / 10e6) * 1000 + count * latencyMs;
}

/**
 * Runs every batch scenario `reps` times with each installed batch tool (order reversed every other
 * repetition), printing each table as it completes, and returns the results.
 */
export async function runBatches(ctx: BatchContext): Promise<BatchResult[]> {
  const wanted = ctx.tools === undefined ? BATCH_TOOLS : BATCH_TOOLS.filter((t) => ctx.tools?.includes(t.id));
  if (ctx.scenarios.length === 0) return [];
  if (wanted.length === 0) {
    ctx.say(
      `bench: batch scenarios skipped: --tools names none of ${BATCH_TOOLS.map((t) => t.id).join(",")}`,
    );
    return [];
  }
  ctx.say(`bench: preparing ${ctx.count} files of ${ctx.size} bytes in ${ctx.cacheDir}`);
  const set = await ensureBatchSet(ctx.cacheDir, ctx.count, ctx.size);
  await symlink(set.dir, join(ctx.root, "batch"));
  const listDir = join(ctx.work, "batch-lists");
  await mkdir(listDir, { recursive: true });
  const table = batchScenarios(ctx.latencyMs);
  const label = `${ctx.count} × ${sizeLabel(ctx.size)}`;
  process.stdout.write(`\n## batch: ${label}\n`);
  const results: BatchResult[] = [];
  for (const id of ctx.scenarios) {
    const scenario = table[id];
    const notes: string[] = [];
    const tools = wanted.filter((tool) => {
      if (tool.needsBinary === true && ctx.dlmBinary === undefined) {
        notes.push(`${tool.label}: not run, no compiled dlm`);
        return false;
      }
      if (batchToolInstalled(tool)) return true;
      notes.push(`${tool.label}: not run, \`${tool.bin}\` is not installed`);
      return false;
    });
    if (scenario.via === "nginx" && ctx.accessLog === undefined)
      notes.push("served/total unknown: nginx log not found");
    ctx.pacer.configure(scenario.mode);
    const setup: BatchSetup = {
      scenario,
      set,
      baseUrl: scenario.via === "nginx" ? ctx.nginxUrl("batch/") : ctx.pacer.url("batch/"),
      dir: join(ctx.work, "batch-out"),
      listDir,
      repo: ctx.repo,
      pacer: ctx.pacer,
      accessLog: ctx.accessLog,
      timeoutMs: ctx.timeoutMs ?? batchTimeoutMs(ctx.count, ctx.size, scenario.mode.latencyMs ?? 0),
      dlmBinary: ctx.dlmBinary,
    };
    const rows: BatchToolRuns[] = tools.map((tool) => ({ tool, runs: [] }));
    for (let rep = 0; rep < ctx.reps; rep++) {
      const order = rep % 2 === 0 ? rows : [...rows].reverse();
      for (const row of order) {
        const result = await runBatchOnce(row.tool, setup);
        row.runs.push(result);
        const shown = result.ok ? `${result.wallSeconds.toFixed(2)} s ok` : `FAIL ${result.failure}`;
        ctx.say(`bench: [batch ${label} ${id} ${rep + 1}/${ctx.reps}] ${row.tool.label}: ${shown}`);
      }
    }
    const result: BatchResult = { scenario, count: ctx.count, size: ctx.size, rows, notes };
    results.push(result);
    process.stdout.write(`\n${batchTable(result)}\n`);
  }
  return results;
}
