import {
  configureSync,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  isLogLevel,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";
import type { TextSink } from "./context.ts";
import { UsageError } from "./errors.ts";

/** The subsystems that log under the `dlm` root category. */
export const LOG_CATEGORIES = ["engine", "worker", "control", "rpc", "http", "cli"] as const;
export type LogCategory = (typeof LOG_CATEGORIES)[number];

/** Levels chosen by `DLM_LOG`: a default level and per-category overrides. */
export interface LogLevels {
  readonly root: LogLevel;
  readonly categories: Partial<Record<LogCategory, LogLevel>>;
}

/**
 * Parses `DLM_LOG`, e.g. `info`, `engine=debug,rpc=warning` or `info,worker=debug`. Unset or empty means
 * `warning`: a quiet run prints only problems. `warn` is accepted for `warning`.
 */
export function parseLogLevels(spec: string | undefined): LogLevels {
  const categories: Partial<Record<LogCategory, LogLevel>> = {};
  let root: LogLevel = "warning";
  for (const raw of (spec ?? "").split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const [name, value] = item.includes("=") ? item.split("=", 2) : [undefined, item];
    const level = normaliseLevel(value ?? "");
    if (level === undefined) {
      throw new UsageError(
        `DLM_LOG: unknown level "${value}" in "${spec}" (use trace, debug, info, warning, error)`,
        {
          flag: "DLM_LOG",
          input: spec ?? "",
        },
      );
    }
    if (name === undefined) {
      root = level;
    } else if ((LOG_CATEGORIES as readonly string[]).includes(name)) {
      categories[name as LogCategory] = level;
    } else {
      throw new UsageError(`DLM_LOG: unknown category "${name}" (use ${LOG_CATEGORIES.join(", ")})`, {
        flag: "DLM_LOG",
        input: spec ?? "",
      });
    }
  }
  return { root, categories };
}

function normaliseLevel(value: string): LogLevel | undefined {
  const lower = value.toLowerCase();
  if (lower === "warn") return "warning";
  return isLogLevel(lower) ? lower : undefined;
}

/**
 * Routes every `dlm` record to `sink` (stderr): JSON lines when `json` (stderr not a TTY, or
 * `DLM_LOG_FORMAT=json`; a function is asked once, on the first record), readable text otherwise. stdout is
 * left to program output.
 */
export function setupLogging(levels: LogLevels, sink: TextSink, json: boolean | (() => boolean)): void {
  // A function is asked on the first record (see main.ts: most runs write none).
  let format: ((record: LogRecord) => string) | undefined;
  const write = (record: LogRecord) => {
    format ??= (typeof json === "function" ? json() : json)
      ? getJsonLinesFormatter()
      : getTextFormatter({ timestamp: "time" });
    sink.write(format(record));
  };
  resetSync();
  configureSync({
    reset: true,
    sinks: { stderr: write },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["stderr"] },
      { category: ["dlm"], lowestLevel: levels.root, sinks: ["stderr"] },
      ...Object.entries(levels.categories).map(([name, level]) => ({
        category: ["dlm", name],
        lowestLevel: level,
        // "forward" lets a category be more verbose than the root level that owns the sink.
        parentSinks: "forward" as const,
      })),
    ],
  });
}

/** The logger of one subsystem. */
export function logger(category: LogCategory): Logger {
  return getLogger(["dlm", category]);
}
