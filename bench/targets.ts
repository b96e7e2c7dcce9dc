import { rowTimes, type ScenarioResult, sizeLabel, type ToolRuns } from "./report.ts";
import { isCapped } from "./scenarios.ts";
import { TOOLS } from "./tools.ts";

/** The bound issue 11 sets on dlm -c 16: wall ≤ this multiple of the ideal time on the paced links. */
export const IDEAL_TARGET = 1.1;

/** Tools compared at equal connection counts: dlm against the two anchors with the same count. */
const GROUPS = [
  { dlm: "dlm16", anchors: ["aria2c", "axel"] },
  { dlm: "dlm8", anchors: ["aria2c8", "axel8"] },
] as const;

const COLUMN_TOOLS = GROUPS.flatMap((g) => [g.dlm, ...g.anchors]);

type Times = NonNullable<ReturnType<typeof rowTimes>>;

/** A row's times, "FAIL" when a run failed, undefined when the tool did not run in that scenario. */
function timesOf(result: ScenarioResult, id: string): Times | "FAIL" | undefined {
  const row: ToolRuns | undefined = result.rows.find((r) => r.tool.id === id);
  if (row === undefined || row.runs.length === 0) return undefined;
  return rowTimes(row) ?? "FAIL";
}

function label(id: string): string {
  return TOOLS.find((t) => t.id === id)?.label ?? id;
}

function multipleOfIdeal(times: Times | "FAIL" | undefined): string {
  if (times === undefined) return "—";
  if (times === "FAIL") return "FAIL";
  return times.ideal === undefined ? "—" : (times.wall / times.ideal).toFixed(2);
}

/**
 * "No slower than the better of the anchors": ✓ or ✗ and dlm's median wall / the smaller anchor median wall.
 * Not judged (—) unless dlm and at least one anchor ran, and every one that ran was correct every time (a
 * failed anchor is no yardstick, a failed dlm is its own failure and shows FAIL).
 */
function noSlower(result: ScenarioResult, dlm: string, anchors: readonly string[]): string {
  const mine = timesOf(result, dlm);
  if (mine === "FAIL") return "✗ FAIL";
  const theirs = anchors.map((id) => timesOf(result, id));
  const walls = theirs.filter((t): t is Times => t !== undefined && t !== "FAIL").map((t) => t.wall);
  if (mine === undefined || walls.length === 0 || theirs.includes("FAIL")) return "—";
  const ratio = mine.wall / Math.min(...walls);
  return `${ratio <= 1 ? "✓" : "✗"} ${ratio.toFixed(2)}`;
}

function withinIdeal(result: ScenarioResult, dlm: string): string {
  const mine = timesOf(result, dlm);
  if (mine === "FAIL") return "✗ FAIL";
  if (mine?.ideal === undefined) return "—";
  const ratio = mine.wall / mine.ideal;
  return `${ratio <= IDEAL_TARGET ? "✓" : "✗"} ${ratio.toFixed(2)}`;
}

/**
 * The targets of issue 11 item 5, one line per size and paced link (the capped scenarios: throttled, uneven,
 * latency): each equal-connection tool's median wall / median ideal, then whether dlm -c 16 is no slower than
 * the better of aria2c -x16 and axel -n 16 and within IDEAL_TARGET of its ideal, and the same race at 8
 * connections. Undefined when no capped scenario ran.
 */
export function targetsTable(results: readonly ScenarioResult[]): string | undefined {
  const paced = results.filter((r) => isCapped(r.scenario));
  if (paced.length === 0) return undefined;
  const header = [
    "size",
    "link",
    ...COLUMN_TOOLS.map((id) => `${label(id)} × ideal`),
    `${label("dlm16")} no slower than the better of ${label("aria2c")}, ${label("axel")}`,
    `${label("dlm16")} ≤ ${IDEAL_TARGET.toFixed(2)}x ideal`,
    `${label("dlm8")} no slower than the better of ${label("aria2c8")}, ${label("axel8")}`,
  ];
  const lines = [
    "## Targets: equal connection counts on the paced links",
    "",
    `| ${header.join(" | ")} |`,
    `|---|---|${header
      .slice(2)
      .map(() => "---:")
      .join("|")}|`,
  ];
  for (const result of paced) {
    const [sixteen, eight] = GROUPS;
    const cells = [
      sizeLabel(result.sizeBytes),
      result.scenario.id,
      ...COLUMN_TOOLS.map((id) => multipleOfIdeal(timesOf(result, id))),
      noSlower(result, sixteen.dlm, sixteen.anchors),
      withinIdeal(result, sixteen.dlm),
      noSlower(result, eight.dlm, eight.anchors),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push(
    "",
    `"× ideal" is median wall / median ideal as in the tables above; "no slower" shows ✓ or ✗ and dlm's median ` +
      "wall / the smaller median wall of the two (judged only when every run of dlm and of the anchors that ran " +
      `was correct); "≤ ${IDEAL_TARGET.toFixed(2)}x ideal" shows dlm -c 16's × ideal. — means not run or not ` +
      "judged. Issue 11 sets the ideal bound on the throttled and uneven links and the race on every paced link.",
  );
  return lines.join("\n");
}
