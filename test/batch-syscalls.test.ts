import { afterAll, beforeAll, test as bunTest, describe, expect } from "bun:test";
import { readFile, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { BUN_BIN, MAIN_TS, runCommand, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// Issue 24, "Batches at the floor": on the way from a batch file's slot to its first request and first byte,
// dlm made a chain of trips through Bun's thread pool (2 threads, held by other files' fsyncs): the download
// directory resolved again per file (twice), the output's and sidecar's lookups, the sidecar's mkdir, the
// data file's open. Now the directory is resolved once per batch and the rest runs on the download thread
// itself (microseconds each). strace shows which thread made each call.

const STRACE = Bun.which("strace");
const test = STRACE === null ? bunTest.skip : bunTest;
if (STRACE === null) console.warn("skipping the batch syscall tests: strace is not installed");

let origin: Origin;
const dirs = tempDirs("dlm-batch-sys-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** One traced call: the thread that made it, the call's name and its text (arguments and result). */
interface Call {
  readonly tid: number;
  readonly name: string;
  readonly text: string;
}

/** strace -f output lines ("TID name(args) = result", or "<unfinished ...>"; resumptions are skipped). */
function parseTrace(trace: string): Call[] {
  const calls: Call[] = [];
  for (const line of trace.split("\n")) {
    const match = /^(\d+)\s+(\w+)\((.*)$/.exec(line);
    if (match === null) continue;
    calls.push({ tid: Number(match[1]), name: match[2] as string, text: match[3] as string });
  }
  return calls;
}

describe("dlm get -i: a file's way to its first request and first byte", () => {
  test("looks up, makes its sidecar and opens its data on the download thread; the directory is resolved once", async () => {
    const dir = await realpath(await dirs.fresh());
    const count = 16;
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const path = `/sys/f-${i}.bin`;
      origin.serve(path, { size: 32 * 1024 + i, seed: 300 + i });
      lines.push(origin.url(path), `  out=f-${i}.bin`);
    }
    await writeFile(join(dir, "list.txt"), `${lines.join("\n")}\n`);
    const trace = join(dir, "trace.txt");
    const result = await runCommand(
      [
        STRACE as string,
        "-f",
        "-qq",
        "-s",
        "4096",
        "-o",
        trace,
        "-e",
        "trace=statx,newfstatat,lstat,mkdir,openat,readlink",
        BUN_BIN,
        MAIN_TS,
        "get",
        "-i",
        "list.txt",
        "-j",
        "4",
        "-c",
        "1",
        "--quiet",
      ],
      dir,
      { timeoutMs: 120_000 },
    );
    expect(result.stderr).toContain(`${count} finished`);
    expect(result.exitCode).toBe(0);
    for (let i = 0; i < count; i++) {
      const bytes = new Uint8Array(await readFile(join(dir, `f-${i}.bin`)));
      expect(sha256Hex(bytes)).toBe(sha256Of(32 * 1024 + i, 300 + i));
    }
    const calls = parseTrace(await readFile(trace, "utf8"));
    // The first traced call is the exec'd process's own: its thread id is the process id, the download thread.
    const main = calls[0]?.tid;
    expect(main).toBeDefined();
    for (let i = 0; i < count; i++) {
      const output = join(dir, `f-${i}.bin`);
      const sidecar = `${output}.dlm`;
      const looked = calls.filter(
        (c) =>
          ["statx", "newfstatat", "lstat"].includes(c.name) &&
          (c.text.includes(`"${output}"`) || c.text.includes(`"${sidecar}"`)),
      );
      const made = calls.filter((c) => c.name === "mkdir" && c.text.startsWith(`"${sidecar}"`));
      const opened = calls.filter(
        (c) => c.name === "openat" && c.text.includes(`"${sidecar}/data"`) && c.text.includes("O_CREAT"),
      );
      // The output and its sidecar looked up before the probe, the output again after it.
      expect(looked.length).toBeGreaterThanOrEqual(2);
      expect(made.length).toBe(1);
      expect(opened.length).toBe(1);
      for (const call of [...looked, ...made, ...opened]) {
        expect({ file: i, call: call.name, thread: call.tid === main ? "download" : "other" }).toEqual({
          file: i,
          call: call.name,
          thread: "download",
        });
      }
    }
    // realpath(3) of the download directory (Bun reads the link of an open descriptor): once for the
    // batch, not once or more per file.
    const resolved = calls.filter((c) => c.name === "readlink" && c.text.includes(`"${dir}"`));
    expect(resolved.length).toBeLessThanOrEqual(2);
  }, 150_000);
});
