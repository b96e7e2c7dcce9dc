import { DlmError, exitCodeOf } from "../../errors.ts";
import type { ExitCode } from "../../exit-codes.ts";
import type { CliContext } from "./cli-context.ts";

/**
 * Prints an error as one line on stderr (and as a JSON record on stdout with --json) and returns its exit
 * code. Unexpected errors show their stack only under DLM_LOG=debug.
 */
export function reportError(cli: CliContext, error: unknown, json: boolean): ExitCode {
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    error instanceof DlmError && error.hint !== undefined && !message.includes(error.hint)
      ? ` (${error.hint})`
      : "";
  cli.dlm.stderr.write(`dlm: ${message}${hint}\n`);
  if (
    !(error instanceof DlmError) &&
    error instanceof Error &&
    /debug|trace/.test(cli.dlm.env["DLM_LOG"] ?? "")
  ) {
    cli.dlm.stderr.write(`${error.stack ?? ""}\n`);
  }
  if (json) {
    const kind = error instanceof DlmError ? error.code : "unexpected";
    cli.dlm.stdout.write(`${JSON.stringify({ type: "error", code: kind, message, exitCode: code })}\n`);
  }
  return code;
}
