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
  /** Directory relative output paths resolve against. */
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
    stdout: streamSink(process.stdout),
    stderr: streamSink(process.stderr),
    cwd: process.cwd(),
  };
}

function streamSink(stream: NodeJS.WriteStream): TextSink {
  return {
    write: (text) => {
      stream.write(text);
    },
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.columns;
    },
  };
}
