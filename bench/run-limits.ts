import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { ensureFile } from "./files.ts";
import { type LimitResult, type LimitToolRuns, limitTable, rateLabel } from "./limit-report.ts";
import { type LimitSetup, runLimitOnce } from "./limit-run.ts";
import { DLM_STALL_TIMEOUT_MS, LIMIT_TOOLS } from "./limit-tools.ts";
import type { Pacer } from "./pacer.ts";
import { toolInstalled } from "./tools.ts";

/** What the limit runs share with the rest of the bench. */
export interface LimitContext {
  /** Limits to run, bytes/s, in order; each gets a file sized to take `seconds` at it. */
  readonly rates: readonly number[];
  readonly seconds: number;
  readonly reps: number;
  /** Tool ids given with --tools, or undefined for every limit tool. */
  readonly tools: readonly string[] | undefined;
  /** The pacer's per-connection cap, bytes/s: the link the limit is held on. */
  readonly capBytesPerSec: number;
  readonly timeoutMs: number | undefined;
  /** The bench file cache, nginx's root, a scratch directory of this run, the repo. */
  readonly cacheDir: string;
  readonly root: string;
  readonly work: string;
  readonly repo: string;
  readonly pacer: Pacer;
  readonly say: (line: string) => void;
}

/** The file a limit is measured with: `seconds` at the limit, so every row is the same length of time. */
export function limitFileSize(rateBytesPerSec: number, seconds: number): number {
  return Math.max(1, Math.round(rateBytesPerSec * seconds));
}

/** Bound on one run: 30 s plus three times the planned duration (a tool that holds a third of the limit). */
function limitTimeoutMs(seconds: number): number {
  return 30_000 + 3 * seconds * 1000;
}

/**
 * Runs every limit `reps` times with each installed limit tool (order reversed every other repetition),
 * through the pacer at the cap, printing each table as it completes, and returns the results.
 */
export async function runLimits(ctx: LimitContext): Promise<LimitResult[]> {
  if (ctx.rates.length === 0) return [];
  const wanted = ctx.tools === undefined ? LIMIT_TOOLS : LIMIT_TOOLS.filter((t) => ctx.tools?.includes(t.id));
  if (wanted.length === 0) {
    ctx.say(`bench: limit scenario skipped: --tools names none of ${LIMIT_TOOLS.map((t) => t.id).join(",")}`);
    return [];
  }
  const notes: string[] = [];
  const tools = wanted.filter((tool) => {
    if (!toolInstalled(tool)) {
      notes.push(`${tool.label}: not run, \`${tool.bin}\` is not installed`);
      return false;
    }
    const why = tool.unsupported?.();
    if (why !== undefined) notes.push(`${tool.label}: not run, ${why}`);
    return why === undefined;
  });
  ctx.pacer.configure({ rateBytesPerSec: ctx.capBytesPerSec });
  process.stdout.write("\n## limit\n");
  const results: LimitResult[] = [];
  for (const rate of ctx.rates) {
    const size = limitFileSize(rate, ctx.seconds);
    ctx.say(`bench: preparing a ${size}-byte file in ${ctx.cacheDir}`);
    const file = await ensureFile(ctx.cacheDir, size);
    const name = `limit-${size}.bin`;
    await symlink(file.path, join(ctx.root, name));
    const setup: LimitSetup = {
      file,
      url: ctx.pacer.url(name),
      out: join(ctx.work, "limit-out.bin"),
      repo: ctx.repo,
      pacer: ctx.pacer,
      timeoutMs: ctx.timeoutMs ?? limitTimeoutMs(ctx.seconds),
      limitBytesPerSec: rate,
      stallTimeoutMs: DLM_STALL_TIMEOUT_MS,
    };
    const rows: LimitToolRuns[] = tools.map((tool) => ({ tool, runs: [] }));
    for (let rep = 0; rep < ctx.reps; rep++) {
      const order = rep % 2 === 0 ? rows : [...rows].reverse();
      for (const row of order) {
        const result = await runLimitOnce(row.tool, setup);
        row.runs.push(result);
        const shown = result.ok
          ? `${result.wallSeconds.toFixed(2)} s, ${rateLabel(result.achievedBytesPerSec)} ok`
          : `FAIL ${result.failure}`;
        ctx.say(`bench: [limit ${rateLabel(rate)} ${rep + 1}/${ctx.reps}] ${row.tool.label}: ${shown}`);
      }
    }
    const result: LimitResult = {
      limitBytesPerSec: rate,
      sizeBytes: size,
      seconds: ctx.seconds,
      capBytesPerSec: ctx.capBytesPerSec,
      rows,
      notes,
    };
    results.push(result);
    process.stdout.write(`\n${limitTable(result)}\n`);
  }
  return results;
}
