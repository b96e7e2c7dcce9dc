import { type BatchResult, batchWall } from "./batch-report.ts";
import { medianOf, okRuns, type ScenarioResult, sizeLabel } from "./report.ts";

/** Issue 24's bounds, each a ratio dlm must stay at or under. */
export const FLOOR_BOUNDS = {
  /** 200 × 1 MiB straight to nginx: dlm's wall / the Bun batch script's. */
  batch: 1.5,
  /** With +RTT (batch-latency): dlm's wall / wget2's. */
  batchLatency: 1.0,
  /** Unthrottled single file: dlm -c 16's wall / wget2's (the issue judges 1 GiB). */
  wget2: 1.3,
  /** Peak RSS of dlm -c 16 / the Bun ranged script at 16 connections, same scenario and size. */
  rss: 1.25,
  /** On a capped link: dlm -c 16's wall / dlm -c 8's (more connections must not hurt). */
  more: 1.05,
} as const;

type Pick = "wall" | "rss";

function singleFigure(result: ScenarioResult, id: string, pick: Pick): number | "FAIL" | undefined {
  const row = result.rows.find((r) => r.tool.id === id);
  if (row === undefined || row.runs.length === 0) return undefined;
  const ok = okRuns(row.runs);
  if (ok === undefined) return "FAIL";
  return medianOf(ok, (r) => (pick === "wall" ? r.wallSeconds : r.peakRssBytes));
}

/** "✓ 1.12" / "✗ 1.40" for mine / theirs against `bound`; "✗ FAIL" when dlm failed; — when not judged. */
function verdict(
  mine: number | "FAIL" | undefined,
  theirs: number | "FAIL" | undefined,
  bound: number,
): string {
  if (mine === "FAIL") return "✗ FAIL";
  if (mine === undefined || theirs === undefined || theirs === "FAIL" || theirs <= 0) return "—";
  const ratio = mine / theirs;
  return `${ratio <= bound ? "✓" : "✗"} ${ratio.toFixed(2)}`;
}

function batchFigure(result: BatchResult | undefined, id: string): number | "FAIL" | undefined {
  const row = result?.rows.find((r) => r.tool.id === id);
  if (row === undefined || row.runs.length === 0) return undefined;
  return batchWall(row) ?? "FAIL";
}

/**
 * Issue 24's "Done when" against the runtime's floor, one line per check that ran: the batch against the Bun
 * batch script (and wget2 with +RTT), dlm -c 16 (from source and compiled) against wget2 and against the Bun
 * ranged script's peak RSS on the unthrottled link, and dlm -c 16 against dlm -c 8 on the capped links.
 * Undefined when none of them could be judged.
 */
export function floorTargets(
  results: readonly ScenarioResult[],
  batches: readonly BatchResult[],
): string | undefined {
  const rows: string[][] = [];
  const batch = batches.find((b) => b.scenario.id === "batch");
  const latency = batches.find((b) => b.scenario.id === "batch-latency");
  for (const id of ["dlm-batch", "dlmbin-batch"]) {
    const label = id === "dlm-batch" ? "dlm" : "dlm binary";
    if (batch !== undefined)
      rows.push([
        `batch ${batch.count} × ${sizeLabel(batch.size)}`,
        `${label} -j 8 / bun floor-batch.ts wall ≤ ${FLOOR_BOUNDS.batch}`,
        verdict(batchFigure(batch, id), batchFigure(batch, "bun-batch"), FLOOR_BOUNDS.batch),
      ]);
    if (latency !== undefined)
      rows.push([
        `batch-latency ${latency.count} × ${sizeLabel(latency.size)}`,
        `${label} -j 8 / wget2 wall ≤ ${FLOOR_BOUNDS.batchLatency.toFixed(1)}`,
        verdict(batchFigure(latency, id), batchFigure(latency, "wget2-batch"), FLOOR_BOUNDS.batchLatency),
      ]);
  }
  for (const result of results) {
    const where = `${result.scenario.id} ${sizeLabel(result.sizeBytes)}`;
    if (result.scenario.id === "unthrottled") {
      for (const [id, label] of [
        ["dlm16", "dlm -c 16"],
        ["dlmbin16", "dlm binary -c 16"],
      ] as const) {
        rows.push([
          where,
          `${label} / wget2 wall ≤ ${FLOOR_BOUNDS.wget2}`,
          verdict(
            singleFigure(result, id, "wall"),
            singleFigure(result, "wget2", "wall"),
            FLOOR_BOUNDS.wget2,
          ),
        ]);
        rows.push([
          where,
          `${label} / bun floor-ranged.ts 16 peak RSS ≤ ${FLOOR_BOUNDS.rss}`,
          verdict(
            singleFigure(result, id, "rss"),
            singleFigure(result, "bun-ranged16", "rss"),
            FLOOR_BOUNDS.rss,
          ),
        ]);
      }
    } else if (result.scenario.mode.rateBytesPerSec !== undefined) {
      rows.push([
        where,
        `dlm -c 16 / dlm -c 8 wall ≤ ${FLOOR_BOUNDS.more}`,
        verdict(
          singleFigure(result, "dlm16", "wall"),
          singleFigure(result, "dlm8", "wall"),
          FLOOR_BOUNDS.more,
        ),
      ]);
    }
  }
  const judged = rows.filter((row) => row[2] !== "—");
  if (judged.length === 0) return undefined;
  return [
    "## Targets: against the runtime's floor (issue 24)",
    "",
    "| where | check | verdict |",
    "|---|---|---:|",
    ...judged.map((row) => `| ${row.join(" | ")} |`),
    "",
    "Each verdict is dlm's median / the other row's median (walls, or peak RSS) in the same run: ✓ within the " +
      "bound, ✗ over it. Rows where either side did not run or failed are left out (a failed dlm shows ✗ FAIL).",
  ].join("\n");
}
