import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Repository root (this file lives in test/helpers/). */
export const REPO_ROOT = resolve(import.meta.dir, "..", "..");

/** The pinned Bun binary that runs the CLI, as `bun run dlm` would. */
export const BUN_BIN = join(REPO_ROOT, "node_modules", ".bin", "bun");

/** Entry point of the CLI. */
export const MAIN_TS = join(REPO_ROOT, "src", "main.ts");

/** How to run one CLI invocation. */
export interface RunOptions {
  /** Working directory of the child (relative output names land here). */
  readonly cwd: string;
  /** Extra environment; merged over the parent's, with DLM_LOG and DLM_LOG_FORMAT removed first. */
  readonly env?: Readonly<Record<string, string>>;
  /** Kill the child (SIGKILL) after this many ms; default 30 000. */
  readonly timeoutMs?: number;
}

/** What one CLI invocation did. */
export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit in ms. */
  readonly elapsedMs: number;
}

/**
 * Spawns `bun src/main.ts ...args` with stdin closed and stdout/stderr captured (so neither is a TTY), waits
 * for it to exit, and returns its exit code and output. A child still running after `timeoutMs` is killed
 * with SIGKILL and the promise rejects, naming the args and what the child printed so far.
 */
export async function runDlm(args: readonly string[], options: RunOptions): Promise<RunResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env["DLM_LOG"];
  delete env["DLM_LOG_FORMAT"];
  Object.assign(env, options.env ?? {});
  const began = performance.now();
  const child = Bun.spawn([BUN_BIN, MAIN_TS, ...args], {
    cwd: options.cwd,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((done) => {
    timer = setTimeout(() => done("timeout"), timeoutMs);
  });
  const outcome = await Promise.race([child.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    child.kill("SIGKILL");
    await child.exited;
    throw new Error(
      `dlm ${args.join(" ")} did not exit within ${timeoutMs} ms\nstdout: ${await stdout}\nstderr: ${await stderr}`,
    );
  }
  return {
    exitCode: outcome,
    stdout: await stdout,
    stderr: await stderr,
    elapsedMs: performance.now() - began,
  };
}

/** A fresh empty directory under the OS temp dir; remove it with {@link removeDir}. */
export function makeTempDir(prefix = "dlm-cli-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a directory made by {@link makeTempDir} and everything in it. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Temp dirs of one test file: `fresh()` makes one, `removeAll()` (in afterAll) removes every one made. */
export function tempDirs(prefix?: string): { fresh(): Promise<string>; removeAll(): Promise<void> } {
  const dirs: string[] = [];
  return {
    async fresh() {
      const dir = await makeTempDir(prefix);
      dirs.push(dir);
      return dir;
    },
    async removeAll() {
      await Promise.all(dirs.splice(0).map(removeDir));
    },
  };
}

/** Names in `dir`, sorted (to assert what a run left behind). */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** The JSON records of a `--json` run's stdout, one per non-empty line; throws on a line that is not JSON. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const value: unknown = JSON.parse(line);
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw new Error(`not a JSON object line: ${line}`);
      return value as Record<string, unknown>;
    });
}

/**
 * Runs any command (the built binary, an installed `dlm`, npm) in `cwd` with stdin closed and output
 * captured; `env` is merged over this process's; killed after `timeoutMs` (default 30 s).
 */
export async function runCommand(
  command: readonly string[],
  cwd: string,
  options: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([...command], {
    cwd,
    env: { ...process.env, ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 30_000,
  });
  const [exitCode, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { exitCode, stdout, stderr };
}

/** A CLI process running in the background, its output collected as it arrives. */
export interface LiveDlm {
  readonly proc: ReturnType<typeof Bun.spawn>;
  /** Resolves when it exited and both pipes are drained. */
  readonly done: Promise<RunResult>;
  /** Resolves once `stream` matches `pattern` (checked as output arrives); rejects if the process ends first. */
  printed(stream: "stdout" | "stderr", pattern: RegExp): Promise<void>;
}

/**
 * Spawns `bun src/main.ts ...args` in the background like {@link runDlm} (same environment rules), so a
 * test can wait for what it prints (an event) before acting on it. Killed with SIGKILL after `timeoutMs`.
 */
export function spawnDlm(args: readonly string[], options: RunOptions): LiveDlm {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env["DLM_LOG"];
  delete env["DLM_LOG_FORMAT"];
  Object.assign(env, options.env ?? {});
  const began = performance.now();
  const proc = Bun.spawn([BUN_BIN, MAIN_TS, ...args], {
    cwd: options.cwd,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  let ended = false;
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out[key] += decoder.decode(chunk, { stream: true });
      for (const check of [...waiters]) check();
    }
  };
  const pumped = Promise.all([pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]);
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const done = (async (): Promise<RunResult> => {
    const exitCode = await proc.exited;
    await pumped;
    clearTimeout(timer);
    ended = true;
    for (const check of [...waiters]) check();
    return { exitCode, stdout: out.stdout, stderr: out.stderr, elapsedMs: performance.now() - began };
  })();
  return {
    proc,
    done,
    printed(stream, pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out[stream])) {
            waiters.delete(check);
            resolve();
          } else if (ended) {
            waiters.delete(check);
            reject(
              new Error(
                `dlm ${args.join(" ")} exited before printing ${pattern} on ${stream}: ${out.stderr}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}
