import { HttpStatusError, UsageError } from "../errors.ts";
import { assertFetchableUrl } from "./url-scheme.ts";

/** Longest a `--refresh-cmd` may run before it is killed and the refresh fails (ms). */
export const REFRESH_COMMAND_TIMEOUT_MS = 30_000;

/** Most bytes of the command's stdout read (a URL, a line): more is refused, not buffered. */
const MAX_OUTPUT_BYTES = 64 * 1024;

const FLAG = "--refresh-cmd";

/**
 * Splits a `--refresh-cmd` value into argv without a shell: words separated by blanks, `'…'` taken
 * literally, `"…"` with `\"` and `\\` escapes, a backslash outside quotes escaping the next character.
 * Nothing is expanded ($VAR, globs, pipes are plain characters). Pure; throws UsageError naming the flag on an
 * empty command or an unclosed quote.
 */
export function splitCommand(text: string, flag = FLAG): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? "";
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word = (word ?? "") + c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\"))
        word = (word ?? "") + (text[++i] ?? "");
      else word = (word ?? "") + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + (text[++i] ?? "");
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (quote !== undefined) {
    throw new UsageError(`${flag}: unclosed ${quote} in ${JSON.stringify(text)}`, { flag, input: text });
  }
  if (word !== undefined) words.push(word);
  if (words.length === 0)
    throw new UsageError(`${flag}: expected a command, got ${JSON.stringify(text)}`, { flag, input: text });
  return words;
}

/** What a refresh command is told, in its environment. */
export interface RefreshCommandInput {
  /** The URL the download was given. */
  readonly url: string;
  /** The output path. */
  readonly output: string;
  /** The URL that stopped working, and what it answered. */
  readonly expiredUrl: string;
  readonly status: number;
}

/**
 * Runs `argv` (no shell) with the download described in its environment — DLM_URL, DLM_OUTPUT,
 * DLM_EXPIRED_URL, DLM_STATUS besides `env` — and returns the first line of its stdout: the fresh URL, checked
 * to be http(s). Bounded by REFRESH_COMMAND_TIMEOUT_MS and MAX_OUTPUT_BYTES. A command that cannot start,
 * fails or times out is an HttpStatusError carrying the status that made the refresh necessary (the link
 * stays expired); a first line that is not an http(s) URL is a UsageError naming the flag.
 */
export async function runRefreshCommand(
  argv: readonly string[],
  input: RefreshCommandInput,
  env: Readonly<Record<string, string | undefined>>,
  signal: AbortSignal,
): Promise<string> {
  const shown = argv.join(" ");
  const failed = (why: string, cause?: unknown) =>
    new HttpStatusError(
      `${FLAG} ${shown} ${why}; ${input.expiredUrl} answered HTTP ${input.status} and could not be renewed`,
      { url: input.url, status: input.status, flag: FLAG, cause },
    );
  let child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    child = Bun.spawn([...argv], {
      env: {
        ...env,
        DLM_URL: input.url,
        DLM_OUTPUT: input.output,
        DLM_EXPIRED_URL: input.expiredUrl,
        DLM_STATUS: String(input.status),
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      signal: AbortSignal.any([signal, AbortSignal.timeout(REFRESH_COMMAND_TIMEOUT_MS)]),
    });
  } catch (error) {
    throw failed("could not start", error);
  }
  const [stdout, stderr, code] = await Promise.all([
    readBounded(child.stdout),
    readBounded(child.stderr),
    child.exited,
  ]);
  if (signal.aborted) throw signal.reason;
  if (child.signalCode !== null && child.signalCode !== undefined)
    throw failed(`was stopped (${child.signalCode}; at most ${REFRESH_COMMAND_TIMEOUT_MS} ms)`);
  if (code !== 0) {
    const said = stderr.split("\n", 1)[0]?.trim() ?? "";
    throw failed(`exited ${code}${said === "" ? "" : ` (${said})`}`);
  }
  const line = stdout.split("\n", 1)[0]?.trim() ?? "";
  return assertFetchableUrl(line, `${FLAG} ${shown} printed`).href;
}

async function readBounded(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size < MAX_OUTPUT_BYTES) chunks.push(value.subarray(0, MAX_OUTPUT_BYTES - size));
    size += value.length;
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
