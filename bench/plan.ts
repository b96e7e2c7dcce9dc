import { existsSync } from "node:fs";
import type { BenchOptions } from "./args.ts";
import { isCapped, type Scenario, type ScenarioId } from "./scenarios.ts";
import { TOOLS, type Tool, toolInstalled } from "./tools.ts";

/**
 * --smoke runs every tool in every scenario at its first size only; at the others it runs just the race the
 * targets table judges (dlm -c 16, aria2c -x16, axel -n 16) on the paced links, which is enough to exercise
 * the size loop and keeps CI's smoke run short.
 */
const SMOKE_LATER_TOOLS: readonly string[] = ["dlm16", "aria2c", "axel"];

/** Scenarios and tool ids to run at the `index`-th size. */
export function planFor(
  index: number,
  options: BenchOptions,
  table: Record<ScenarioId, Scenario>,
): { ids: ScenarioId[]; tools: readonly string[] | undefined } {
  if (!options.smoke || index === 0) return { ids: [...options.scenarios], tools: options.tools };
  const tools = (options.tools ?? SMOKE_LATER_TOOLS).filter((id) => SMOKE_LATER_TOOLS.includes(id));
  // None of the race's tools asked for: nothing to run at this size.
  const ids = tools.length === 0 ? [] : options.scenarios.filter((id) => isCapped(table[id]));
  return { ids, tools };
}

/**
 * Which tools run in a scenario (`only`: the ids asked for, else the default set), and notes on the rest.
 * The compiled dlm's rows run only when `dlmBinary` (built for this run) is given.
 */
export function pickTools(
  scenario: Scenario,
  size: number,
  only: readonly string[] | undefined,
  dlmBinary?: string | undefined,
): { tools: Tool[]; notes: string[] } {
  const notes: string[] = [];
  const tools: Tool[] = [];
  const wanted = only === undefined ? TOOLS : TOOLS.filter((t) => only.includes(t.id));
  const skippedSingle: string[] = [];
  for (const tool of wanted) {
    if (!toolInstalled(tool)) {
      notes.push(`${tool.label}: not run, \`${tool.bin}\` is not installed`);
      continue;
    }
    if (tool.needsBinary === true && dlmBinary === undefined) {
      notes.push(`${tool.label}: not run, no compiled dlm (\`bun run build\` failed)`);
      continue;
    }
    const rc = tool.configFiles?.filter((path) => existsSync(path)) ?? [];
    if (rc.length > 0) notes.push(`${tool.label}: reads ${rc.join(", ")} (it has no flag to skip it)`);
    if (only === undefined && tool.connections === 1 && isCapped(scenario)) {
      skippedSingle.push(tool.label);
    } else tools.push(tool);
  }
  if (skippedSingle.length > 0) {
    const seconds = size / (scenario.mode.rateBytesPerSec ?? 1);
    notes.push(
      `${skippedSingle.join(", ")}: not run here: one connection at the cap takes size / cap = ${seconds.toFixed(1)} s ` +
        `(name them in --tools to run them anyway)`,
    );
  }
  return { tools, notes };
}

/** Bound on one run: four times a single connection at the cap, or 20 MB/s when uncapped, plus 30 s. */
export function defaultTimeoutMs(scenario: Scenario, size: number): number {
  const rate = scenario.mode.rateBytesPerSec;
  return 30_000 + (rate === undefined ? size / 20e6 : (4 * size) / rate) * 1000;
}
