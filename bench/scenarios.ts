import type { PacerMode } from "./pacer.ts";

/** Scenario ids, in run order. */
export const SCENARIO_IDS = ["unthrottled", "throttled", "uneven", "no-range", "latency"] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** One kind of link. */
export interface Scenario {
  readonly id: ScenarioId;
  /** One line for the report. */
  readonly description: string;
  /** `nginx`: straight to nginx; `pacer`: through the pacing proxy in `mode`. */
  readonly via: "nginx" | "pacer";
  readonly mode: PacerMode;
}

/** Link parameters shared by the scenarios. */
export interface LinkParams {
  /** Per-connection cap, bytes/s. */
  readonly rateBytesPerSec: number;
  /** Added delay before each response, ms. */
  readonly latencyMs: number;
}

/** How much slower the slow connections of the uneven link are, and how often they come. */
export const SLOW_FACTOR = 8;
export const SLOW_EVERY = 4;

/** Builds the scenario table for the given link parameters. */
export function scenarios(link: LinkParams): Record<ScenarioId, Scenario> {
  const rate = link.rateBytesPerSec;
  const mib = (rate / 2 ** 20).toFixed(rate % 2 ** 20 === 0 ? 0 : 1);
  const slowMib = (rate / SLOW_FACTOR / 2 ** 20).toFixed(2);
  return {
    unthrottled: {
      id: "unthrottled",
      description: "straight to nginx on loopback, no pacing",
      via: "nginx",
      mode: {},
    },
    throttled: {
      id: "throttled",
      description: `each connection capped at ${mib} MiB/s`,
      via: "pacer",
      mode: { rateBytesPerSec: rate },
    },
    uneven: {
      id: "uneven",
      description: `each connection capped at ${mib} MiB/s, but every ${SLOW_EVERY}th accepted connection (4, 8, 12...) at ${slowMib} MiB/s (${SLOW_FACTOR}x slower)`,
      via: "pacer",
      mode: { rateBytesPerSec: rate, slowEvery: SLOW_EVERY, slowFactor: SLOW_FACTOR },
    },
    "no-range": {
      id: "no-range",
      description: "through the pacer, uncapped, Range stripped: every answer is 200 with the whole body",
      via: "pacer",
      mode: { ignoreRange: true },
    },
    latency: {
      id: "latency",
      description: `each connection capped at ${mib} MiB/s and ${link.latencyMs} ms added before every response`,
      via: "pacer",
      mode: { rateBytesPerSec: rate, latencyMs: link.latencyMs },
    },
  };
}

/** True when the scenario caps connections, so an ideal time exists. */
export function isCapped(scenario: Scenario): boolean {
  return scenario.mode.rateBytesPerSec !== undefined;
}

/** Batch scenario ids (many small files, a fixed number at once), in run order. */
export const BATCH_SCENARIO_IDS = ["batch", "batch-latency"] as const;
export type BatchScenarioId = (typeof BATCH_SCENARIO_IDS)[number];

/** A link for the batch rows: like Scenario, for a list of files rather than one. */
export interface BatchScenario {
  readonly id: BatchScenarioId;
  readonly description: string;
  readonly via: "nginx" | "pacer";
  readonly mode: PacerMode;
}

/**
 * The batch links: straight to nginx, and through the pacer with `latencyMs` before every response and no
 * cap, where a tool's per-file round trips (a probe, a HEAD) show as time.
 */
export function batchScenarios(latencyMs: number): Record<BatchScenarioId, BatchScenario> {
  return {
    batch: { id: "batch", description: "straight to nginx on loopback, no pacing", via: "nginx", mode: {} },
    "batch-latency": {
      id: "batch-latency",
      description: `through the pacer, uncapped, ${latencyMs} ms added before every response`,
      via: "pacer",
      mode: { latencyMs },
    },
  };
}

/**
 * The speed-limit scenario: one file per limit, sized to take a fixed time at it, through the pacer at the
 * per-connection cap; each tool runs at its own limit flag (limit-tools.ts).
 */
export const LIMIT_SCENARIO_IDS = ["limit"] as const;
export type LimitScenarioId = (typeof LIMIT_SCENARIO_IDS)[number];
