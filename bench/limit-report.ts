import type { LimitRunResult } from "./limit-run.ts";
import type { LimitTool } from "./limit-tools.ts";
import { fixed, medianOf, okRuns, sizeLabel } from "./report.ts";

/** All runs of one tool at one limit. */
export interface LimitToolRuns {
  readonly tool: LimitTool;
  readonly runs: LimitRunResult[];
}

/** One limit's results: the limit, the file sized to take `seconds` at it, the link's cap, and the rows. */
export interface LimitResult {
  readonly limitBytesPerSec: number;
  readonly sizeBytes: number;
  readonly seconds: number;
  readonly capBytesPerSec: number;
  readonly rows: LimitToolRuns[];
  readonly notes: string[];
}

type Ok = Extract<LimitRunResult, { ok: true }>;

/** Issue 14's bound: the achieved rate within ±5% of the limit (and no stall retry, for dlm)... */
export const LIMIT_TOLERANCE = 0.05;
/** ...over 10 s: shorter runs (--smoke) are measured but not judged, a token bucket's burst dominates them. */
export const LIMIT_WINDOW_SECONDS = 10;

const MIB = 2 ** 20;

/** A rate for headings and cells: `4 MiB/s`, `512 KiB/s`, `3.98 MiB/s`. */
export function rateLabel(bytesPerSec: number): string {
  if (bytesPerSec >= MIB) return `${trim(bytesPerSec / MIB)} MiB/s`;
  return `${trim(bytesPerSec / 1024)} KiB/s`;
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 0 : 2);
}

/** Achieved / limit − 1 as a signed percentage: `+0.8%`, `−3.1%`. */
function deviation(ratio: number): string {
  const percent = (ratio - 1) * 100;
  return `${percent < 0 ? "−" : "+"}${Math.abs(percent).toFixed(1)}%`;
}

/** The run whose achieved rate is furthest from the limit, as achieved / limit. */
function worstRatio(runs: readonly Ok[], limit: number): number {
  return runs
    .map((r) => r.achievedBytesPerSec / limit)
    .reduce((worst, ratio) => (Math.abs(ratio - 1) > Math.abs(worst - 1) ? ratio : worst), 1);
}

function sumOf(runs: readonly Ok[], pick: (r: Ok) => number | undefined): number | undefined {
  const values = runs.map(pick);
  return values.some((v) => v === undefined) ? undefined : values.reduce((a, v) => (a ?? 0) + (v ?? 0), 0);
}

/** True when every run of every row produced a correct file. */
export function limitAllOk(result: LimitResult): boolean {
  return result.rows.every((row) => row.runs.every((r) => r.ok));
}

/** The heading of one limit's table (also the link column of the target table). */
function headingOf(result: LimitResult): string {
  return `limit ${rateLabel(result.limitBytesPerSec)}, ${sizeLabel(result.sizeBytes)} (~${trim(result.seconds)} s)`;
}

const HEADER = [
  "tool",
  "wall s",
  "first byte s",
  "achieved",
  "× limit",
  "worst rep",
  "conns",
  "requests",
  "served/size",
  "stall retries",
  "other retries",
  "CPU s",
  "peak RSS MiB",
];

/**
 * The markdown table of one limit. Times and rates are medians over repetitions, "worst rep" the repetition
 * furthest from the limit, retries the sums over repetitions, peak RSS and served/size the maxima. A tool with
 * any wrong or missing output is a FAIL row with the first reason and no numbers.
 */
export function limitTable(result: LimitResult): string {
  const limit = result.limitBytesPerSec;
  const lines = [
    `### ${headingOf(result)}: through the pacer, each connection capped at ${rateLabel(result.capBytesPerSec)}`,
    "",
    `| ${HEADER.join(" | ")} |`,
    `|${HEADER.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  for (const row of result.rows) {
    const ok = okRuns(row.runs);
    const achieved = ok === undefined ? undefined : medianOf(ok, (r) => r.achievedBytesPerSec);
    if (ok === undefined || achieved === undefined) {
      const failures = row.runs.filter((r) => !r.ok);
      const first = failures[0];
      const why = first !== undefined && !first.ok ? first.failure.replaceAll("|", "\\|") : "no runs";
      const cells = [row.tool.label, `**FAIL** (${failures.length}/${row.runs.length}): ${why}`];
      lines.push(`| ${cells.join(" | ")} |${" |".repeat(HEADER.length - cells.length)}`);
      continue;
    }
    const cells = [
      row.tool.label,
      fixed(
        medianOf(ok, (r) => r.wallSeconds),
        2,
      ),
      fixed(
        medianOf(ok, (r) => r.firstByteSeconds),
        3,
      ),
      rateLabel(achieved),
      `${(achieved / limit).toFixed(3)} (${deviation(achieved / limit)})`,
      deviation(worstRatio(ok, limit)),
      fixed(
        medianOf(ok, (r) => r.connections),
        0,
      ),
      fixed(
        medianOf(ok, (r) => r.requests),
        0,
      ),
      fixed(Math.max(...ok.map((r) => r.servedBytes ?? 0)) / result.sizeBytes, 3),
      fixed(
        sumOf(ok, (r) => r.retries?.stalls),
        0,
      ),
      fixed(
        sumOf(ok, (r) => r.retries?.others),
        0,
      ),
      fixed(
        medianOf(ok, (r) => r.cpuSeconds),
        2,
      ),
      fixed(Math.max(...ok.map((r) => r.peakRssBytes)) / MIB, 0),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  for (const note of result.notes) lines.push("", `- ${note}`);
  return lines.join("\n");
}

/**
 * Issue 14's target for one row: every repetition within ±LIMIT_TOLERANCE of the limit and, where the tool
 * logs its retries (dlm), not one stall retry. ✓ or ✗ with the reason; a failed run is `✗ FAIL`.
 */
export function limitVerdict(row: LimitToolRuns, limit: number): string {
  const ok = okRuns(row.runs);
  if (ok === undefined) return "✗ FAIL";
  const worst = worstRatio(ok, limit);
  const stalls = sumOf(ok, (r) => r.retries?.stalls);
  const reasons = [
    ...(Math.abs(worst - 1) > LIMIT_TOLERANCE ? [`worst rep ${deviation(worst)}`] : []),
    ...(stalls !== undefined && stalls > 0 ? [`${stalls} stall retries`] : []),
  ];
  return reasons.length === 0 ? "✓" : `✗ ${reasons.join(", ")}`;
}

/**
 * The target table: one line per limit and tool. dlm's rows are judged (pass/fail); the other tools' rows
 * show the same check in parentheses, for information. Undefined when no limit ran.
 */
export function limitTargets(results: readonly LimitResult[]): string | undefined {
  if (results.length === 0) return undefined;
  const bound = `${LIMIT_TOLERANCE * 100}%`;
  const lines = [
    "## Target: speed limit",
    "",
    `| link | tool | × limit (median) | worst rep | stall retries | within ±${bound} over ${LIMIT_WINDOW_SECONDS} s, no stall retry |`,
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const result of results) {
    for (const row of result.rows) {
      if (row.runs.length === 0) continue;
      const ok = okRuns(row.runs);
      const achieved = ok === undefined ? undefined : medianOf(ok, (r) => r.achievedBytesPerSec);
      const verdict =
        result.seconds < LIMIT_WINDOW_SECONDS ? "—" : limitVerdict(row, result.limitBytesPerSec);
      const cells = [
        headingOf(result),
        row.tool.label,
        achieved === undefined ? "—" : (achieved / result.limitBytesPerSec).toFixed(3),
        ok === undefined ? "—" : deviation(worstRatio(ok, result.limitBytesPerSec)),
        ok === undefined
          ? "—"
          : fixed(
              sumOf(ok, (r) => r.retries?.stalls),
              0,
            ),
        row.tool.logsRetries || verdict === "—" ? verdict : `(${verdict})`,
      ];
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  lines.push(
    "",
    `Judged for dlm only: ✓ when every repetition's achieved rate is within ±${bound} of the limit and dlm's ` +
      "log shows no stall retry. The other tools' rows show the same rate check in parentheses, for " +
      "information (they log no stall retries the bench can count: —). Runs shorter than " +
      `${LIMIT_WINDOW_SECONDS} s (--smoke, --limit-seconds) are not judged (—): a token bucket's burst dominates them.`,
  );
  return lines.join("\n");
}

/** What the limit columns mean. */
export const LIMIT_LEGEND = `Limit columns: **wall s** median seconds from spawn to exit; **first byte s** spawn → the pacer starting
to send the first body byte of any request (dlm's is its probe, whose answer is also its first segment); **achieved** file size / (wall −
first byte), median over repetitions: the rate from the first body byte to the tool's exit, so start-up is not
counted and the tail after the last byte (dlm: fsync and rename) is; **× limit** achieved / the limit (and the
deviation); **worst rep** the repetition furthest from the limit; **conns**, **requests** as the pacer counted
them (dlm's probe is one request); **served/size** body bytes the pacer sent / file size (max); **stall
retries** attempts dlm retried because a connection was silent for its stall timeout, and **other retries**
retries after other failures plus slow-connection restarts, both summed over repetitions and read from dlm's
worker log (DLM_LOG=worker=info, JSON lines; — for tools without one); **CPU s** user+sys CPU; **peak RSS MiB**
largest resident set (max). Every output is hashed by the harness; a wrong output is a FAIL row.`;
