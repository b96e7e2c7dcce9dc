import { basename, dirname } from "node:path";
import type { Tool, ToolInput } from "./tools.ts";

/** What a limit tool's command line is built from: a single-file run plus the limit and dlm's stall timeout. */
export interface LimitInput extends ToolInput {
  /** The speed limit to ask for, bytes/s (passed as a plain number: every tool reads it as bytes). */
  readonly limitBytesPerSec: number;
  /** dlm's `--stall-timeout`, ms (see DLM_STALL_TIMEOUT_MS). */
  readonly stallTimeoutMs: number;
}

/** A downloader run at its own speed-limit flag. */
export interface LimitTool
  extends Pick<Tool, "id" | "bin" | "connections" | "selfVerifies" | "reportedSha256"> {
  /** Row label, the limit written as RATE (the table's heading gives its value). */
  readonly label: string;
  /** Whether its stderr is dlm's JSON log, whose retries limit-log.ts counts. */
  readonly logsRetries: boolean;
  argv(input: LimitInput): string[];
  /** Why this installed build cannot take part (no limit flag), or undefined when it can. */
  unsupported?(): string | undefined;
}

/**
 * The stall timeout dlm runs with here, ms. dlm's default (30 s) is longer than a whole 10 s run, so with it no
 * stall retry could ever show; 2 s is far longer than any wait the limiter itself imposes on one connection
 * (a read of up to a few hundred KiB at 512 KiB/s), and a waiting connection is not counted as silent anyway.
 */
export const DLM_STALL_TIMEOUT_MS = 2000;

function dlm(connections: number): LimitTool {
  return {
    id: connections === 4 ? "dlm-limit" : `dlm-limit-c${connections}`,
    label: `dlm get --limit RATE -c ${connections}`,
    bin: undefined,
    connections,
    selfVerifies: true,
    logsRetries: true,
    reportedSha256: (stdout) => /sha256 ([0-9a-f]{64})/.exec(stdout)?.[1],
    // worker=info logs every retry and slow-connection restart (one JSON line each, never per chunk).
    argv: ({ url, out, bun, limitBytesPerSec, stallTimeoutMs }) => [
      "env",
      "DLM_LOG=worker=info",
      "DLM_LOG_FORMAT=json",
      bun,
      "src/main.ts",
      "get",
      url,
      "-o",
      out,
      "-c",
      String(connections),
      "--limit",
      String(limitBytesPerSec),
      "--stall-timeout",
      `${stallTimeoutMs}ms`,
      "--quiet",
      "--force",
    ],
  };
}

/**
 * The limit rows, in report order: dlm and aria2c at 4 connections, then the one-connection tools (dlm -c 1,
 * curl, wget2). Every tool gets the limit as a plain byte count, so no K/M convention can differ between them.
 */
export const LIMIT_TOOLS: readonly LimitTool[] = [
  dlm(4),
  {
    id: "aria2c-limit",
    label: "aria2c --max-download-limit=RATE -x4 -s4",
    bin: "aria2c",
    connections: 4,
    selfVerifies: false,
    logsRetries: false,
    argv: ({ url, out, limitBytesPerSec }) => [
      "aria2c",
      "--no-conf",
      "-q",
      "-x4",
      "-s4",
      "-k1M",
      `--max-download-limit=${limitBytesPerSec}`,
      "--file-allocation=none",
      "--allow-overwrite=true",
      "--auto-file-renaming=false",
      "-d",
      dirname(out),
      "-o",
      basename(out),
      url,
    ],
  },
  dlm(1),
  {
    id: "curl-limit",
    label: "curl --limit-rate RATE",
    bin: "curl",
    connections: 1,
    selfVerifies: false,
    logsRetries: false,
    argv: ({ url, out, limitBytesPerSec }) => [
      "curl",
      "-q",
      "-s",
      "--limit-rate",
      String(limitBytesPerSec),
      "-o",
      out,
      url,
    ],
  },
  {
    id: "wget2-limit",
    label: "wget2 --limit-rate=RATE",
    bin: "wget2",
    connections: 1,
    selfVerifies: false,
    logsRetries: false,
    argv: ({ url, out, limitBytesPerSec }) => [
      "wget2",
      "--no-config",
      "-q",
      `--limit-rate=${limitBytesPerSec}`,
      "-O",
      out,
      url,
    ],
    // --limit-rate came with wget2 2.0; Debian's 1.99.1 rejects it ("Unknown option 'limit-rate'").
    unsupported: () => {
      const help = Bun.spawnSync(["wget2", "--help"], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
      if (help.includes("--limit-rate")) return undefined;
      const version = Bun.spawnSync(["wget2", "--version"], { stdout: "pipe", stderr: "pipe" });
      const name = version.stdout.toString().split("\n")[0]?.split(" - ")[0]?.trim();
      return `${name || "this wget2"} has no --limit-rate (added in wget2 2.0)`;
    },
  },
];
