import { ArgumentParseError, buildApplication, buildRouteMap, help, text_en, version } from "@stricli/core";
import packageJson from "../../../package.json" with { type: "json" };
import { DlmError } from "../../errors.ts";
import type { CliContext } from "./cli-context.ts";
import { addCommand } from "./commands/add.ts";
import { cancelCommand } from "./commands/cancel.ts";
import { completionRoutes } from "./commands/completion.ts";
import { getCommand } from "./commands/get.ts";
import { limitCommand } from "./commands/limit.ts";
import { infoCommand, lsCommand } from "./commands/ls.ts";
import { pauseEitherCommand, resumeEitherCommand, rmCommand } from "./commands/queue-control.ts";
import { serveCommand } from "./commands/serve.ts";
import { statusCommand } from "./commands/status.ts";
import { updateCommand } from "./commands/update.ts";
import { watchCommand } from "./commands/watch.ts";

/** dlm's version, shown by `--version`: package.json's (inlined into the compiled binary). */
export const VERSION: string = packageJson.version;

const formatting = {
  useAliasInUsageLine: false,
  onlyRequiredInUsageLine: false,
  caseStyle: "convert-camel-to-kebab",
} as const;

const routes = buildRouteMap({
  routes: {
    get: getCommand,
    resume: resumeEitherCommand,
    status: statusCommand,
    pause: pauseEitherCommand,
    cancel: cancelCommand,
    watch: watchCommand,
    completion: completionRoutes,
    serve: serveCommand,
    add: addCommand,
    ls: lsCommand,
    info: infoCommand,
    rm: rmCommand,
    limit: limitCommand,
    update: updateCommand,
  },
  docs: { brief: "dlm: fast, verified, resumable downloads over HTTP(S)" },
});

/** The Stricli application: commands, kebab-case flags, and dlm's one-line error text for bad flags. */
export const app = buildApplication<CliContext>(
  routes,
  {
    name: "dlm",
    versionInfo: { currentVersion: VERSION },
    scanner: { caseStyle: "allow-kebab-for-camel" },
    documentation: formatting,
    localization: {
      loadText: () => ({
        ...text_en,
        // A parse function threw a UsageError: its message already names the flag and the value. The
        // `dlm: ` prefix matches every other error line (report.ts).
        exceptionWhileParsingArguments: (error: unknown, ansiColor: boolean) =>
          `dlm: ${
            error instanceof ArgumentParseError && error.exception instanceof DlmError
              ? error.exception.message
              : text_en.exceptionWhileParsingArguments(error, ansiColor)
          }`,
      }),
    },
  },
  {
    // Stricli's default --helpAll takes -H, which curl users expect to mean --header.
    help: help({
      brief: text_en.briefs.help,
      alias: "h",
      defaultForRouteMap: true,
      includeHidden: false,
      formatting,
    }),
    helpAll: help({
      brief: text_en.briefs.helpAll,
      alias: false,
      hidden: true,
      includeHidden: true,
      formatting,
    }),
    version: version({
      brief: text_en.briefs.version,
      info: { currentVersion: VERSION },
      alias: "v",
      hook: "app:start",
    }),
  },
);
