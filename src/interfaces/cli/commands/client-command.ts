import { buildCommand } from "@stricli/core";
import type { Command } from "../../../control/transitions.ts";
import { outputPath } from "../flag-parsers.ts";

/** Flags of the client commands. */
export interface ClientFlags {
  readonly json?: boolean;
}

/** `--json` of every client command. */
export const clientFlags = {
  json: {
    kind: "boolean",
    brief: "Machine output: one JSON object on stdout (default off)",
    optional: true,
  },
} as const;

/** The FILE positional of every client command. */
export const fileParameter = {
  kind: "tuple",
  parameters: [{ brief: "The output file being downloaded", parse: outputPath, placeholder: "FILE" }],
} as const;

/**
 * A `dlm pause|cancel FILE` command: finds the live download through control.json and sends `command`. Its
 * body (control-command.ts, with the control client) loads when it runs: `dlm get` never loads it (issue 24).
 */
export function controlCommand(command: Command, brief: string) {
  return buildCommand({
    loader: async () => (await import("./control-command.ts")).liveCommandFunc(command),
    parameters: { flags: clientFlags, positional: fileParameter },
    docs: { brief },
  });
}
