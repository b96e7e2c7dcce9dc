#!/usr/bin/env bun
/**
 * Entry of `bun run dlm`: builds the context, sets up logging from DLM_LOG, runs the CLI, and maps the
 * outcome onto the EXIT table. The only place that calls process.exit.
 */
import { run, ExitCode as StricliExit } from "@stricli/core";
import { processContext } from "./context.ts";
import { exitCodeOf } from "./errors.ts";
import { EXIT, type ExitCode } from "./exit-codes.ts";
import { applicationFor, fullApplication } from "./interfaces/cli/app.ts";
import type { CliContext } from "./interfaces/cli/cli-context.ts";
import { cliProcess } from "./interfaces/cli/cli-process.ts";
import { COMPLETE_COMMAND, completionsFor } from "./interfaces/cli/complete.ts";
import { parseLogLevels, setupLogging } from "./log.ts";

async function main(argv: readonly string[]): Promise<ExitCode> {
  const ctx = processContext();
  try {
    // Asked when the first record is written: whether stderr is a terminal costs building the stream.
    const json = () => !ctx.stderr.isTTY || ctx.env["DLM_LOG_FORMAT"] === "json";
    setupLogging(parseLogLevels(ctx.env["DLM_LOG"]), ctx.stderr, json);
  } catch (error) {
    ctx.stderr.write(`dlm: ${(error as Error).message}\n`);
    return exitCodeOf(error);
  }
  const cli: CliContext = {
    process: cliProcess(argv, process.env),
    dlm: ctx,
    exitCode: undefined,
    exitNow: (code) => process.exit(code),
    onSignal: (handler) => {
      const onInt = () => handler("SIGINT");
      const onTerm = () => handler("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
      return () => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
      };
    },
  };
  if (argv[0] === COMPLETE_COMMAND) {
    // Not a route: the shell's words go to Stricli's completion engine unparsed (they may be flags).
    for (const proposal of await completionsFor(fullApplication(), argv.slice(1), ctx.env, cli))
      ctx.stdout.write(`${proposal}\n`);
    return EXIT.OK;
  }
  await run(applicationFor(argv), argv, cli);
  if (cli.exitCode !== undefined) return cli.exitCode;
  return stricliExit((cli.process as { exitCode?: number | string | null }).exitCode);
}

/** Stricli reports its own outcomes as small negative numbers; map them onto EXIT. */
function stricliExit(code: number | string | null | undefined): ExitCode {
  if (code === undefined || code === null || code === StricliExit.Success || code === 0) return EXIT.OK;
  if (code === StricliExit.InvalidArgument || code === StricliExit.UnknownCommand) return EXIT.USAGE;
  return EXIT.UNEXPECTED;
}

const code = await main(process.argv.slice(2));
process.exit(code);
