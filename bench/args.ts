import { parseArgs } from "node:util";
import { BATCH_TOOLS } from "./batch-tools.ts";
import { LIMIT_TOOLS } from "./limit-tools.ts";
import {
  BATCH_SCENARIO_IDS,
  type BatchScenarioId,
  LIMIT_SCENARIO_IDS,
  SCENARIO_IDS,
  type ScenarioId,
} from "./scenarios.ts";
import { TOOLS } from "./tools.ts";

/** Parsed command line of bench/run.ts. */
export interface BenchOptions {
  readonly smoke: boolean;
  /** File sizes in bytes, in run order (one table per size and scenario). */
  readonly sizes: readonly number[];
  readonly reps: number;
  readonly scenarios: readonly ScenarioId[];
  /** Batch scenarios to run (after the single-file ones), each once with the batch file set. */
  readonly batchScenarios: readonly BatchScenarioId[];
  /** Number of files in a batch and the size of each, bytes. */
  readonly batchFiles: number;
  readonly batchSize: number;
  /** Speed limits of the limit scenario, bytes/s (empty when it does not run), and how long each file takes. */
  readonly limitRates: readonly number[];
  readonly limitSeconds: number;
  /** Tool ids given with --tools (then they run in every scenario), or undefined for the default set. */
  readonly tools: readonly string[] | undefined;
  /** Per-connection cap of the capped scenarios, bytes/s. */
  readonly rateBytesPerSec: number;
  readonly latencyMs: number;
  /** Bound on one tool run, ms; undefined = derived from size and rate. */
  readonly timeoutMs: number | undefined;
  /** Directory the markdown report goes to; undefined = bench/results. */
  readonly resultsDir: string | undefined;
}

/** Usage text printed by --help and after a bad flag. */
export const USAGE = `usage: bun bench/run.ts [--smoke] [--size 128M,1G] [--reps 3] [--scenarios a,b] [--tools a,b]
                        [--rate 16M] [--latency 50] [--timeout SECONDS] [--results DIR]
  --smoke       one repetition of 1 MiB and 4 MiB files (unless --size/--reps say otherwise); no speed checks
  --size        file sizes, comma-separated: bytes or K/M/G (binary: 1G = 1 GiB); default 16M,128M,1G
  --reps        repetitions per tool and scenario (tool order alternates); default 3
                        [--batch-files 200] [--batch-size 1M]
                        [--limit-rates 4M,512K] [--limit-seconds 10]
  --scenarios   subset of ${[...SCENARIO_IDS, ...BATCH_SCENARIO_IDS, ...LIMIT_SCENARIO_IDS].join(",")}
  --tools       subset of ${TOOLS.map((t) => t.id).join(",")}; listed tools run in every scenario
                and, for the batch scenarios, of ${BATCH_TOOLS.map((t) => t.id).join(",")}
                and, for the limit scenario, of ${LIMIT_TOOLS.map((t) => t.id).join(",")}
  --batch-files files in a batch scenario; default 200 (--smoke: 10)
  --batch-size  size of each batch file (K/M/G binary); default 1M (--smoke: 64K)
  --limit-rates speed limits of the limit scenario, bytes/s (K/M/G binary); default 4M,512K (--smoke: 4M)
  --limit-seconds  how long each limit's file takes at the limit; default 10 (--smoke: 0.25)
  --rate        per-connection cap in bytes/s (K/M/G binary); default 16M
  --latency     ms added before each response in the latency scenario; default 50
  --timeout     seconds one tool run may take before it is killed and reported FAIL
  --results     directory for the markdown report; default bench/results`;

/** Thrown for a bad command line; run.ts prints it with USAGE and exits 2. */
export class BenchUsageError extends Error {}

/** Parses `4096`, `8M`, `1G`, `1.5GiB` (binary multiples) into bytes. */
export function parseBytes(flag: string, input: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(input.trim());
  const power = { "": 0, k: 1, m: 2, g: 3, t: 4 }[(m?.[2] ?? "").toLowerCase()];
  const value = m === null || power === undefined ? Number.NaN : Math.round(Number(m[1]) * 1024 ** power);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new BenchUsageError(`${flag}: expected a size like 8M or 1G, got ${JSON.stringify(input)}`);
  }
  return value;
}

function positiveInt(flag: string, input: string | undefined, fallback: number): number {
  if (input === undefined) return fallback;
  const value = Number(input);
  if (!Number.isInteger(value) || value < 0) {
    throw new BenchUsageError(`${flag}: expected a whole number, got ${JSON.stringify(input)}`);
  }
  return value;
}

function subset<T extends string>(flag: string, input: string, known: readonly T[]): T[] {
  const picked = input
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const id of picked) {
    if (!(known as readonly string[]).includes(id)) {
      throw new BenchUsageError(
        `${flag}: unknown ${JSON.stringify(id)}; expected some of ${known.join(",")}`,
      );
    }
  }
  if (picked.length === 0) throw new BenchUsageError(`${flag}: expected a comma-separated list`);
  return picked as T[];
}

/** Parses a comma-separated list of sizes (`128M,1G`) into bytes, in the given order, without repeats. */
export function parseSizes(flag: string, input: string): number[] {
  const sizes = input
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => parseBytes(flag, s));
  if (sizes.length === 0) throw new BenchUsageError(`${flag}: expected a size like 8M or 128M,1G`);
  return [...new Set(sizes)];
}

/**
 * Sizes run when --size is not given: a small file (where more connections must not hurt), the short
 * and long downloads; or two tiny files for --smoke.
 */
const DEFAULT_SIZES = "16M,128M,1G";
const SMOKE_SIZES = "1M,4M";
/** Batch defaults: the 200 files of 1 MiB, or 10 of 64 KiB for --smoke. */
const BATCH_FILES = 200;
const SMOKE_BATCH_FILES = 10;
const BATCH_SIZE = "1M";
const SMOKE_BATCH_SIZE = "64K";
/**
 * Limit defaults: issue 14's 10 s window at a typical limit and at a low one; --smoke checks the harness with
 * a quarter second at the first limit only (its rate is not judged).
 */
const LIMIT_RATES = "4M,512K";
const SMOKE_LIMIT_RATES = "4M";
const LIMIT_SECONDS = 10;
const SMOKE_LIMIT_SECONDS = 0.25;

function positiveSeconds(flag: string, input: string | undefined, fallback: number): number {
  if (input === undefined) return fallback;
  const value = Number(input);
  if (!Number.isFinite(value) || value <= 0 || input.trim() === "") {
    throw new BenchUsageError(`${flag}: expected seconds above 0, got ${JSON.stringify(input)}`);
  }
  return value;
}

/** Parses argv (without the runtime and script); undefined means --help was asked. */
export function parseBenchArgs(argv: string[]): BenchOptions | undefined {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new BenchUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const smoke = values.smoke ?? false;
  const reps = positiveInt("--reps", values.reps, smoke ? 1 : 3);
  if (reps < 1) throw new BenchUsageError("--reps: expected at least 1");
  const allScenarios = [...SCENARIO_IDS, ...BATCH_SCENARIO_IDS, ...LIMIT_SCENARIO_IDS];
  const picked =
    values.scenarios === undefined ? allScenarios : subset("--scenarios", values.scenarios, allScenarios);
  const batchFiles = positiveInt(
    "--batch-files",
    values["batch-files"],
    smoke ? SMOKE_BATCH_FILES : BATCH_FILES,
  );
  if (batchFiles < 1) throw new BenchUsageError("--batch-files: expected at least 1");
  const timeout = values.timeout === undefined ? undefined : positiveInt("--timeout", values.timeout, 0);
  return {
    smoke,
    sizes: parseSizes("--size", values.size ?? (smoke ? SMOKE_SIZES : DEFAULT_SIZES)),
    reps,
    scenarios: picked.filter((id): id is ScenarioId => (SCENARIO_IDS as readonly string[]).includes(id)),
    batchScenarios: picked.filter((id): id is BatchScenarioId =>
      (BATCH_SCENARIO_IDS as readonly string[]).includes(id),
    ),
    batchFiles,
    batchSize: parseBytes("--batch-size", values["batch-size"] ?? (smoke ? SMOKE_BATCH_SIZE : BATCH_SIZE)),
    limitRates: picked.includes("limit")
      ? parseSizes("--limit-rates", values["limit-rates"] ?? (smoke ? SMOKE_LIMIT_RATES : LIMIT_RATES))
      : [],
    limitSeconds: positiveSeconds(
      "--limit-seconds",
      values["limit-seconds"],
      smoke ? SMOKE_LIMIT_SECONDS : LIMIT_SECONDS,
    ),
    tools:
      values.tools === undefined
        ? undefined
        : subset(
            "--tools",
            values.tools,
            [...TOOLS, ...BATCH_TOOLS, ...LIMIT_TOOLS].map((t) => t.id),
          ),
    rateBytesPerSec: parseBytes("--rate", values.rate ?? "16M"),
    latencyMs: positiveInt("--latency", values.latency, 50),
    timeoutMs: timeout === undefined || timeout === 0 ? undefined : timeout * 1000,
    resultsDir: values.results,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      smoke: { type: "boolean" },
      size: { type: "string" },
      reps: { type: "string" },
      scenarios: { type: "string" },
      tools: { type: "string" },
      rate: { type: "string" },
      latency: { type: "string" },
      timeout: { type: "string" },
      results: { type: "string" },
      "batch-files": { type: "string" },
      "batch-size": { type: "string" },
      "limit-rates": { type: "string" },
      "limit-seconds": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}
