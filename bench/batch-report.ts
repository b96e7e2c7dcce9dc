import type { BatchRunResult } from "./batch-run.ts";
import type { BatchTool } from "./batch-tools.ts";
import { fixed, medianOf, okRuns, sizeLabel } from "./report.ts";
import type { BatchScenario } from "./scenarios.ts";

/** All runs of one tool in one batch scenario. */
export interface BatchToolRuns {
  readonly tool: BatchTool;
  readonly runs: BatchRunResult[];
}

/** One batch scenario's results, plus tools that were not run and why. */
export interface BatchResult {
  readonly scenario: BatchScenario;
  readonly count: number;
  readonly size: number;
  readonly rows: BatchToolRuns[];
  readonly notes: string[];
}

const MIB = 2 ** 20;

/** The id of the dlm row the batch target judges, and the anchors it races. */
export const BATCH_DLM = "dlm-batch";
export const BATCH_ANCHORS = ["aria2c-batch", "wget2-batch", "curl-batch"] as const;

const HEADER = [
  "tool",
  "wall s",
  "files/s",
  "MB/s",
  "× best",
  "to verified s",
  "CPU s",
  "peak RSS MiB",
  "served/total",
  "conns",
  "requests",
  "all files right",
  "tool verifies",
];

/** Median wall of a row whose every run was right; undefined when any run failed or none ran. */
export function batchWall(row: BatchToolRuns): number | undefined {
  const ok = okRuns(row.runs);
  return ok === undefined ? undefined : medianOf(ok, (r) => r.wallSeconds);
}

/** True when every run of every row got every file right. */
export function batchAllOk(result: BatchResult): boolean {
  return result.rows.every((row) => row.runs.every((r) => r.ok));
}

/**
 * The markdown table of one batch scenario: medians over repetitions, peak RSS and served/total the maxima. A
 * tool with any run that left a file wrong or missing is a FAIL row with the first reason and no times.
 */
export function batchTable(result: BatchResult): string {
  const { scenario, count, size } = result;
  const total = count * size;
  const walls = result.rows.map(batchWall);
  const best = Math.min(...walls.map((w) => w ?? Number.POSITIVE_INFINITY));
  const lines = [
    `### ${scenario.id}, ${count} × ${sizeLabel(size)}: ${scenario.description}`,
    "",
    `| ${HEADER.join(" | ")} |`,
    `|${HEADER.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  result.rows.forEach((row, i) => {
    const wall = walls[i];
    const ok = okRuns(row.runs);
    if (wall === undefined || ok === undefined) {
      const failures = row.runs.filter((r) => !r.ok);
      const first = failures[0];
      const why = first !== undefined && !first.ok ? first.failure.replaceAll("|", "\\|") : "no runs";
      const cells = [row.tool.label, `**FAIL** (${failures.length}/${row.runs.length}): ${why}`];
      lines.push(`| ${cells.join(" | ")} |${" |".repeat(HEADER.length - cells.length)}`);
      return;
    }
    const served = ok.map((r) => r.servedBytes);
    const cells = [
      row.tool.label,
      fixed(wall, 2),
      fixed(count / wall, 0),
      fixed(total / wall / 1e6, 0),
      fixed(wall / best, 2),
      fixed(
        medianOf(ok, (r) => r.verifiedSeconds),
        2,
      ),
      fixed(
        medianOf(ok, (r) => r.cpuSeconds),
        2,
      ),
      fixed(Math.max(...ok.map((r) => r.peakRssBytes)) / MIB, 0),
      served.some((s) => s === undefined) ? "?" : fixed(Math.max(...served.map((s) => s ?? 0)) / total, 3),
      fixed(
        medianOf(ok, (r) => r.connections),
        0,
      ),
      fixed(
        medianOf(ok, (r) => r.requests),
        0,
      ),
      `yes (${ok.length}/${row.runs.length} runs)`,
      row.tool.selfVerifies ? "yes" : "no",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  });
  for (const note of result.notes) lines.push("", `- ${note}`);
  return lines.join("\n");
}

/**
 * "dlm no slower than the best of the three": ✓ or ✗ with dlm's median wall / the smallest anchor median
 * wall, per batch scenario. Judged only when dlm and at least one anchor ran and every run of each was right.
 */
export function batchTargets(results: readonly BatchResult[]): string | undefined {
  if (results.length === 0) return undefined;
  const lines = [
    "## Target: batches",
    "",
    "| link | files | dlm wall s | best anchor | its wall s | dlm no slower than the best of aria2c, wget2, curl |",
    "|---|---:|---:|---|---:|---:|",
  ];
  for (const result of results) {
    const row = (id: string) => result.rows.find((r) => r.tool.id === id && r.runs.length > 0);
    const dlmRow = row(BATCH_DLM);
    const mine = dlmRow === undefined ? undefined : batchWall(dlmRow);
    const anchors = BATCH_ANCHORS.map(row).filter((r): r is BatchToolRuns => r !== undefined);
    const timed = anchors
      .map((r) => ({ label: r.tool.label, wall: batchWall(r) }))
      .filter((a): a is { label: string; wall: number } => a.wall !== undefined)
      .sort((a, b) => a.wall - b.wall);
    const bestAnchor = timed[0];
    let verdict = "—";
    if (dlmRow !== undefined && mine === undefined) verdict = "✗ FAIL";
    else if (mine !== undefined && bestAnchor !== undefined && timed.length === anchors.length) {
      const ratio = mine / bestAnchor.wall;
      verdict = `${ratio <= 1 ? "✓" : "✗"} ${ratio.toFixed(2)}`;
    }
    const cells = [
      result.scenario.id,
      `${result.count} × ${sizeLabel(result.size)}`,
      fixed(mine, 2),
      bestAnchor?.label ?? "—",
      fixed(bestAnchor?.wall, 2),
      verdict,
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push(
    "",
    "The verdict is dlm's median wall / the smallest median wall of the anchors that ran; — means not judged " +
      "(dlm or every anchor missing, or an anchor with a failed run: a failed anchor is no yardstick).",
  );
  return lines.join("\n");
}

/** What the batch columns mean. */
export const BATCH_LEGEND = `Batch columns: **wall s** median seconds from spawn to exit for the whole list (dlm's includes
hashing every file); **files/s** files / wall; **MB/s** total bytes / wall (10^6 bytes); **× best** wall / the
smallest wall in the table; **to verified s** wall, plus the harness's own SHA-256 of every output for tools that
do not verify; **CPU s** user+sys CPU of the tool (all its processes) for the whole list; **peak RSS MiB** largest
resident set (max over reps); **served/total** body bytes the server side sent / total bytes (max over reps);
**conns** and **requests** connections the tool opened and requests it made (pacer only); **all files right**
every output of every repetition had the right SHA-256 (a wrong, missing or extra-short file is a FAIL row).`;
