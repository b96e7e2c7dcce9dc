import {
  type Application,
  ArgumentParseError,
  buildApplication,
  buildRouteMap,
  type Command,
  help,
  type RouteMap,
  text_en,
  version,
} from "@stricli/core";
import packageJson from "../../../package.json" with { type: "json" };
import { DlmError } from "../../errors.ts";
import type { CliContext } from "./cli-context.ts";
import { isPlainDownload } from "./cli-process.ts";
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

/** Every command, by name. */
const ROUTES = {
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
} as const;

/** A Stricli application over `routes`: kebab-case flags, and dlm's one-line error text for bad flags. */
function application(
  routes: Readonly<Record<string, Command<CliContext> | RouteMap<CliContext>>>,
): Application<CliContext> {
  return buildApplication<CliContext>(
    buildRouteMap({ routes, docs: { brief: "dlm: fast, verified, resumable downloads over HTTP(S)" } }),
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
}

let full: Application<CliContext> | undefined;

/** The application with every command (help, completions, and every command but a plain download). */
export function fullApplication(): Application<CliContext> {
  full ??= application(ROUTES);
  return full;
}

/**
 * The application to run `argv` with. For a plain `dlm get …` or `dlm resume …` (no help asked for), one
 * whose route map holds that command alone: building an application, Stricli checks every command's flags
 * against its help and version flags, 2-3 ms of start-up a download does not need before its first request
 * (issue 24). Routing, parsing and messages of that command are the same; help lists every command.
 */
export function applicationFor(argv: readonly string[]): Application<CliContext> {
  const name = argv[0];
  if (name === "get" && isPlainDownload(argv)) return application({ get: ROUTES.get });
  if (name === "resume" && isPlainDownload(argv)) return application({ resume: ROUTES.resume });
  return fullApplication();
}
