/** Commands that start a download in this process: their first request should leave as early as it can. */
const DOWNLOAD_COMMANDS: ReadonlySet<string> = new Set(["get", "resume"]);

/** Flags that make Stricli print help (in colour on a terminal) instead of running the command. */
const HELP_FLAGS: ReadonlySet<string> = new Set(["-h", "--help", "--helpAll", "--help-all"]);

/** The process as Stricli (and @stricli/auto-complete) sees it: streams to write to, and the environment. */
export type CliProcess = Pick<NodeJS.Process, "stdout" | "stderr" | "env">;

/** `stream()`, looked up on the first access to any of its properties (write, the colour depth...). */
function lazyStream<S extends NodeJS.WriteStream>(stream: () => S): S {
  return new Proxy({} as S, {
    get(_, key) {
      const target = stream();
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The process view for Stricli, for `argv`. Bun builds process.stdout and process.stderr (Node streams) on
 * first use, 3-9 ms a `dlm get` would otherwise spend before its first request (issue 24): here they are
 * looked up when written to. Before it routes, Stricli asks both streams for their colour depth; for a
 * download command the environment it sees says STRICLI_NO_COLOR, so it does not: what Stricli prints there
 * is a one-line usage error, then plain like dlm's own error lines. Help keeps its colours. The command's own
 * environment (the Context's) is never changed.
 */
export function cliProcess(argv: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  const plain = isPlainDownload(argv);
  return {
    stdout: lazyStream(() => process.stdout),
    stderr: lazyStream(() => process.stderr),
    env: plain ? { ...env, STRICLI_NO_COLOR: "1" } : env,
  };
}

/** Whether `argv` runs a download command (get, resume) rather than asking for its help. */
export function isPlainDownload(argv: readonly string[]): boolean {
  const download = argv[0] !== undefined && DOWNLOAD_COMMANDS.has(argv[0]);
  return download && !argv.some((arg) => HELP_FLAGS.has(arg));
}
