import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { bytesOf } from "../helpers/bytes.ts";

// The shared harness of the bad-weather tests: spawn the real CLI, read its sidecar, check what it vouches for.

/** Repository root: the CLI is spawned from here as `bun src/main.ts`. */
export const REPO = resolve(import.meta.dir, "../..");
const BUN = join(REPO, "node_modules/.bin/bun");
const MAIN = join(REPO, "src/main.ts");

/** How a finished CLI run ended. `ms` is wall time from spawn to exit. */
export interface DlmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** A running CLI: the process, its collected output so far, and a wait for the first stdout line matching. */
export interface DlmProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Resolves when the process has exited and both pipes are drained. */
  readonly done: Promise<DlmResult>;
  /** Resolves with the first stdout line for which `match` is true (checked as lines arrive); rejects on exit. */
  line(match: (line: string) => boolean): Promise<string>;
}

/** Starts `bun src/main.ts ...args` in `cwd`, with logging left at its default. */
export function startDlm(args: readonly string[], cwd: string): DlmProcess {
  const started = performance.now();
  const proc = Bun.spawn([BUN, MAIN, ...args], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, DLM_LOG: "warning" },
  });
  let stdout = "";
  const waiters: {
    match: (line: string) => boolean;
    resolve: (l: string) => void;
    reject: (e: Error) => void;
  }[] = [];
  const check = (): void => {
    const lines = stdout.split("\n").slice(0, -1);
    for (const w of [...waiters]) {
      const hit = lines.find(w.match);
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  };
  const readOut = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      check();
    }
  })();
  const errText = new Response(proc.stderr).text();
  const done = (async (): Promise<DlmResult> => {
    const code = await proc.exited;
    const ms = performance.now() - started;
    await readOut;
    const stderr = await errText;
    for (const w of waiters.splice(0)) w.reject(new Error(`dlm exited (${code}) first; stderr: ${stderr}`));
    return { code, stdout, stderr, ms };
  })();
  return {
    proc,
    done,
    line(match) {
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve, reject });
        check();
      });
    },
  };
}

/** Runs the CLI to its end. */
export function runDlm(args: readonly string[], cwd: string): Promise<DlmResult> {
  return startDlm(args, cwd).done;
}

/** A `--json` progress line with at least `bytes` downloaded (this run's view of the file). */
export function progressAtLeast(bytes: number): (line: string) => boolean {
  return (line) => {
    if (!line.startsWith("{")) return false;
    const record = JSON.parse(line) as { type?: string; bytes?: number };
    return record.type === "progress" && (record.bytes ?? 0) >= bytes;
  };
}

/** One segment as state.json records it. */
export interface SavedSegment {
  id: number;
  start: number;
  end: number;
  done: number;
}

/** The parsed `FILE.dlm/state.json`. */
export async function readState(
  output: string,
): Promise<{ segments: SavedSegment[]; [key: string]: unknown }> {
  return JSON.parse(await readFile(`${output}.dlm/state.json`, "utf8"));
}

/**
 * Checks that every byte `FILE.dlm/state.json` vouches for (`done` of each segment, in the in-place data file
 * or in the segment's part file) is the origin's byte for content `seed`; throws naming the first wrong
 * segment. Returns how many bytes the state vouches for.
 */
export async function vouchedBytes(output: string, seed = 1): Promise<number> {
  const state = await readState(output);
  const data = state["storage"] === "parts" ? undefined : await readFile(`${output}.dlm/data`);
  let vouched = 0;
  for (const s of state.segments) {
    if (s.done > 0) {
      const stored =
        data === undefined
          ? (await readFile(`${output}.dlm/part.${s.id}`)).subarray(0, s.done)
          : data.subarray(s.start, s.start + s.done);
      if (!stored.equals(bytesOf(s.start, s.start + s.done - 1, seed))) {
        throw new Error(
          `${output}: segment ${s.id} holds wrong bytes within the ${s.done} its state vouches for`,
        );
      }
    }
    vouched += s.done;
  }
  return vouched;
}

/** Bytes the state file says are still missing: sum of (end - start + 1 - done). */
export function missingOf(segments: readonly SavedSegment[]): number {
  return segments.reduce((sum, s) => sum + (s.end - s.start + 1 - s.done), 0);
}

/** Lower-case hex SHA-256 of a file on disk. */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs` naming `what`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/**
 * Leaves `output` as a paused download whose state file says every byte is on disk, over a sparse data
 * file of `size` bytes, with a `--checksum` of SHA3-256 that the (zero) bytes will not match. `dlm resume`
 * then fetches nothing and spends seconds verifying (SHA3-256 runs in wasm, at a few hundred MB/s, over the
 * whole file, since nothing was hashed on arrival in that process) and ends with an integrity failure:
 * a long `verifying` phase to act on, made of real parts. `url` is served by the test origin, throttled.
 */
export async function pausedWithEverythingDone(url: string, output: string, cwd: string): Promise<void> {
  const wrong = `sha3-256:${"0".repeat(64)}`;
  const first = startDlm(["get", url, "-o", output, "-c", "1", "--checksum", wrong, "--json"], cwd);
  await first.line(progressAtLeast(64 * 1024));
  first.proc.kill("SIGINT");
  const paused = await first.done;
  if (paused.code !== 130) throw new Error(`dlm get did not pause: ${paused.code} ${paused.stderr}`);
  const state = await readState(output);
  for (const s of state.segments) s.done = s.end - s.start + 1;
  await writeFile(`${output}.dlm/state.json`, JSON.stringify(state));
}
