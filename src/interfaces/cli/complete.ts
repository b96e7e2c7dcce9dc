import { type Application, type CommandContext, proposeCompletions } from "@stricli/core";

/** The hidden first argument that turns a dlm run into a completion request: `dlm __complete WORD...`. */
export const COMPLETE_COMMAND = "__complete";

/**
 * What the shell should offer for a command line (Stricli's own proposals: routes, flags, values).
 * `words` is the line as the shell split it up to the cursor: the program name first, the word being
 * completed last (empty after a space). The bash hook that `dlm completion install` (@stricli/auto-complete)
 * writes passes its unquoted $COMP_LINE instead, which drops a trailing empty word; it exports COMP_LINE, so a
 * line ending in whitespace restores it.
 */
export async function completionsFor<CONTEXT extends CommandContext>(
  app: Application<CONTEXT>,
  words: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  context: CONTEXT,
): Promise<string[]> {
  const inputs = words.slice(1);
  const line = env["COMP_LINE"];
  if (inputs.length === 0 || (line !== undefined && /\s$/.test(line) && inputs.at(-1) !== ""))
    inputs.push("");
  const proposals = await proposeCompletions(app, inputs, context);
  return proposals.map((proposal) => proposal.completion);
}
