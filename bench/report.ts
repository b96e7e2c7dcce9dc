import type { RunResult } from "./run-once.ts";
import type { Scenario } from "./scenarios.ts";
import type { Tool } from "./tools.ts";

/** All runs of one tool in one scenario. */
export interface ToolRuns {
  readonly tool: Tool;
  readonly runs: RunResult[];
}

/** One scenario's results, plus tools that were not run and why. */
export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly sizeBytes: number;
  readonly rows: ToolRuns[];
  readonly notes: string[];
}

type Ok = Extract<RunResult, { ok: true }>;

const GIB = 2 ** 30;
const MIB = 2 ** 20;

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median of what `pick` finds in `runs` (undefined and non-finite values left out); undefined for none. */
export function medianOf<R>(runs: readonly R[], pick: (r: R) => number | undefined): number | undefined {
  const values = runs.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length === 0 ? undefined : median(values);
}

/** `value` with `digits` decimals, or an em dash when there is none. */
export function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? "—" : value.toFixed(digits);
}

/** The runs of a row when every one was right (none failed, at least one ran); else undefined. */
export function okRuns<R extends { readonly ok: boolean }>(
  runs: readonly R[],
): Extract<R, { ok: true }>[] | undefined {
  const ok = runs.filter((r): r is Extract<R, { ok: true }> => r.ok);
  return ok.length === 0 || ok.length !== runs.length ? undefined : ok;
}

/** Readable size for headings: `128 MiB`, `1 GiB`, `64 KiB`, else bytes. */
export function sizeLabel(bytes: number): string {
  if (bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Median wall and ideal of a row whose every run was correct; undefined when any failed or none ran. */
export function rowTimes(row: ToolRuns): { wall: number; ideal: number | undefined } | undefined {
  const ok = row.runs.filter((r): r is Ok => r.ok);
  if (ok.length === 0 || ok.length !== row.runs.length) return undefined;
  const wall = medianOf(ok, (r) => r.wallSeconds);
  return wall === undefined ? undefined : { wall, ideal: medianOf(ok, (r) => r.ideal?.seconds) };
}

const HEADER = [
  "tool",
  "wall s",
  "MB/s",
  "× best",
  "ideal s",
  "× ideal",
  "conns",
  "first byte s",
  "to verified s",
  "last byte→verified s",
  "CPU s/GiB",
  "peak RSS MiB",
  "served/size",
  "tool verifies",
];

/** True when every run of every row produced a correct file. */
export function allOk(result: ScenarioResult): boolean {
  return result.rows.every((row) => row.runs.every((r) => r.ok));
}

/**
 * The markdown table of one scenario. Times are medians over repetitions; peak RSS and served/size are the
 * maxima (the worst case is what a limit is about). A tool with any wrong or missing output is a FAIL row
 * with the first reason and no times. "× best" divides by the smallest median wall time of the table.
 */
export function scenarioTable(result: ScenarioResult): string {
  const { scenario, sizeBytes } = result;
  const times = result.rows.map(rowTimes);
  const best = Math.min(...times.map((t) => t?.wall ?? Number.POSITIVE_INFINITY));
  const lines = [
    `### ${scenario.id}, ${sizeLabel(sizeBytes)}: ${scenario.description}`,
    "",
    `| ${HEADER.join(" | ")} |`,
    `|${HEADER.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
  ];
  result.rows.forEach((row, i) => {
    const wall = times[i]?.wall;
    const failures = row.runs.filter((r) => !r.ok);
    if (wall === undefined) {
      const first = failures[0];
      const why = first !== undefined && !first.ok ? first.failure.replaceAll("|", "\\|") : "no runs";
      const cells = [row.tool.label, `**FAIL** (${failures.length}/${row.runs.length}): ${why}`];
      lines.push(`| ${cells.join(" | ")} |${" |".repeat(HEADER.length - cells.length)}`);
      return;
    }
    const ok = row.runs as Ok[];
    const ideal = times[i]?.ideal;
    const conns = medianOf(ok, (r) => r.ideal?.connections);
    const slow = medianOf(ok, (r) => r.ideal?.slowConnections);
    const cpu = medianOf(ok, (r) => r.cpuSeconds);
    const served = ok.map((r) => r.servedBytes);
    const cells = [
      row.tool.label,
      fixed(wall, 2),
      fixed(sizeBytes / wall / 1e6, 0),
      fixed(wall / best, 2),
      fixed(ideal, 2),
      ideal === undefined ? "—" : fixed(wall / ideal, 2),
      slow === undefined || slow === 0 ? fixed(conns, 0) : `${fixed(conns, 0)} (${fixed(slow, 0)} slow)`,
      fixed(
        medianOf(ok, (r) => r.firstByteSeconds),
        3,
      ),
      fixed(
        medianOf(ok, (r) => r.verifiedSeconds),
        2,
      ),
      fixed(
        medianOf(ok, (r) => r.lastByteToVerifiedSeconds),
        2,
      ),
      cpu === undefined ? "—" : fixed(cpu / (sizeBytes / GIB), 2),
      fixed(Math.max(...ok.map((r) => r.peakRssBytes)) / MIB, 0),
      served.some((s) => s === undefined)
        ? "?"
        : fixed(Math.max(...served.map((s) => s ?? 0)) / sizeBytes, 3),
      row.tool.selfVerifies ? "yes" : "no",
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  });
  for (const note of result.notes) lines.push("", `- ${note}`);
  return lines.join("\n");
}

/** What every column means; printed once under the tables and in bench/README.md. */
export const LEGEND = `Columns: **wall s** median seconds from spawn to exit (for dlm and aria2c --checksum this already
includes hashing the file); **MB/s** size / wall (10^6 bytes); **× best** wall / the smallest wall in the
table; **ideal s** latency + size / C, where C is the peak sum of per-connection caps over connections carrying
body at the same moment (connections with < 1% of the file are not counted); **× ideal** wall / ideal;
**conns** connections in that peak (and how many of them were slow); **first byte s** spawn → the server
side starting to send the first body byte of any request (pacer: the first body part leaving for the
connection; unthrottled: nginx's arrival time of the first request that got body bytes, ms resolution);
**to verified s** wall, plus the
harness's own streaming SHA-256 of the output for tools that do not verify; **last byte→verified s** last body
byte leaving the pacer → exit (plus the hash where the tool does not verify); **CPU s/GiB** user+sys CPU of
the tool per GiB; **peak RSS MiB** largest resident set of the tool's processes (max over reps);
**served/size** body bytes the server side sent / file size (max over reps; > 1 means bytes were fetched twice
or thrown away); **tool verifies** whether the tool itself checks the content (dlm prints the SHA-256 it
computed; the harness compares it). Every output is hashed by the harness; a wrong or missing output, a
non-zero exit or a timeout is a FAIL row, never a time.`;
