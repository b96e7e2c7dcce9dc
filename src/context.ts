import { isAbsolute } from "node:path";

/**
 * Everything dlm takes from the outside world, injected so the engine never reaches for globals:
 * tests and embedders can swap the clock, fetch or output streams.
 */
export interface Context {
  /** The HTTP client; `fetch` of the runtime in production. */
  readonly fetch: typeof fetch;
  /** Wall clock in ms since the epoch (for state-file timestamps). */
  readonly now: () => number;
  /** Monotonic clock in ms (for rates, timeouts and elapsed times). */
  readonly monotonic: () => number;
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Program output (results, --json lines). */
  readonly stdout: TextSink;
  /** Human diagnostics: progress line, errors, hints. */
  readonly stderr: TextSink;
  /** The directory the user ran dlm in, which relative paths resolve against (see {@link userDirectory}). */
  readonly cwd: string;
}

/** A place text can be written to; `isTTY` selects the redrawn progress line over plain lines. */
export interface TextSink {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Terminal width in columns when it is a TTY. */
  readonly columns?: number;
}

/** The real process's context. */
export function processContext(): Context {
  return {
    fetch: globalThis.fetch,
    now: () => Date.now(),
    monotonic: () => performance.now(),
    env: process.env,
    // Getters: Bun builds process.stdout/stderr (Node streams) on first use, a few ms a `dlm get` would
    // otherwise spend before its first request (issue 24); --quiet writes nothing until the result line.
    stdout: streamSink(() => process.stdout),
    stderr: streamSink(() => process.stderr),
    cwd: userDirectory(process.env, process.cwd(), Bun.isStandaloneExecutable),
  };
}

/**
 * The directory the user ran dlm in. Usually the process's own working directory; but a package runner
 * (`npm run dlm`, `bun run dlm`, `npx bun run dlm`) starts the project's `dlm` script in the package's
 * directory and leaves the caller's elsewhere: npm (and npx, which sets it at its own start) in INIT_CWD;
 * Bun 1.4 sets no INIT_CWD but puts the directory `bun run` started in into npm_config_local_prefix (npm puts
 * the package root there, which is then also the working directory, so reading it is harmless). Those
 * variables are trusted only when this package's `dlm` script is what runs: an installed `dlm` or the
 * compiled binary started from some other package's script must keep its real working directory.
 */
export function userDirectory(
  env: Readonly<Record<string, string | undefined>>,
  processCwd: string,
  standalone: boolean,
): string {
  const viaPackageScript =
    !standalone && env["npm_lifecycle_event"] === "dlm" && env["npm_package_name"] === "dlm";
  if (!viaPackageScript) return processCwd;
  for (const dir of [env["INIT_CWD"], env["npm_config_local_prefix"]]) {
    if (dir !== undefined && isAbsolute(dir)) return dir;
  }
  return processCwd;
}

/** A sink over a process stream that is looked up only when first written to or asked about. */
function streamSink(stream: () => NodeJS.WriteStream): TextSink {
  return {
    write: (text) => {
      stream().write(text);
    },
    get isTTY() {
      return stream().isTTY === true;
    },
    get columns() {
      return stream().columns;
    },
  };
}
