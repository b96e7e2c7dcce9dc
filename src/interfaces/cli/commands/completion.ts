import { buildInstallCommand, buildUninstallCommand } from "@stricli/auto-complete";
import { buildCommand, buildRouteMap } from "@stricli/core";
import type { CliContext } from "../cli-context.ts";
import { COMPLETE_COMMAND } from "../complete.ts";
import { completionScript, SHELLS, type Shell } from "../completion-scripts.ts";

function printScript(shell: Shell) {
  return buildCommand({
    func(this: CliContext) {
      this.dlm.stdout.write(completionScript(shell));
    },
    parameters: {},
    docs: { brief: `Print the ${shell} completion script (see dlm completion --help)` },
  });
}

/**
 * `dlm completion bash|zsh|fish` prints a script to load in the shell; `dlm completion install|uninstall`
 * (from @stricli/auto-complete, bash only) adds or removes a hook in ~/.bashrc.
 */
export const completionRoutes = buildRouteMap({
  routes: {
    bash: printScript("bash"),
    zsh: printScript("zsh"),
    fish: printScript("fish"),
    install: buildInstallCommand<CliContext>("dlm", { bash: `dlm ${COMPLETE_COMMAND}` }),
    uninstall: buildUninstallCommand<CliContext>("dlm", { bash: true }),
  },
  docs: {
    brief: `Shell completion: print a script for ${SHELLS.join(", ")}, or install it for bash`,
    fullDescription: [
      "bash: source <(dlm completion bash) in ~/.bashrc, or dlm completion install (edits ~/.bashrc)",
      "zsh:  dlm completion zsh > $fpath[1]/_dlm",
      "fish: dlm completion fish > ~/.config/fish/completions/dlm.fish",
    ].join("\n"),
  },
});
