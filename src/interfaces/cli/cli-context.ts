import type { CommandContext } from "@stricli/core";
import type { Context } from "../../context.ts";
import type { ExitCode } from "../../exit-codes.ts";
import type { CliProcess } from "./cli-process.ts";

/** What every command receives: Stricli's process streams, dlm's injected world, and a place for the exit code. */
export interface CliContext extends CommandContext {
  /** Streams and environment of the process as Stricli sees them (`dlm completion install` reads SHELL). */
  readonly process: CliProcess;
  readonly dlm: Context;
  /** Set by the command; main.ts turns it into the process exit status. */
  exitCode: ExitCode | undefined;
  /** Ends the process at once (second Ctrl+C); provided by main.ts, the only caller of process.exit. */
  readonly exitNow: (code: ExitCode) => void;
  /** Registers a handler for SIGINT/SIGTERM; returns its removal. */
  readonly onSignal: (handler: (signal: "SIGINT" | "SIGTERM") => void) => () => void;
}
