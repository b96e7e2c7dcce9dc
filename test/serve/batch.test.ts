import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "../helpers/bytes.ts";
import { BUN_BIN, MAIN_TS, runDlm, tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

const dirs = tempDirs("dlm-batch-");
let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

describe("dlm get with several URLs (no daemon)", () => {
  test("URL URL URL -j 2: one result line per file, a summary, and the worst exit code", async () => {
    const dir = await dirs.fresh();
    const urls = [0, 1, 2].map((i) =>
      origin.serve(`/b/f${i}.bin`, { size: 200_000 + i, seed: 40 + i, throttleBytesPerSec: 1 << 20 }),
    );
    const missing = origin.serve("/b/missing.bin", { size: 10, status: 404 });
    const run = await runDlm(["get", ...urls, missing, "-j", "2"], { cwd: dir, env: { DLM_HOME: dir } });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
    const lines = run.stdout.trim().split("\n");
    expect(lines.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(run.stdout).toContain(
        `${join(dir, `f${i}.bin`)}  ${200_000 + i} bytes  sha256 ${sha256Of(200_000 + i, 40 + i)}`,
      );
      expect(sha256Hex(new Uint8Array(await readFile(join(dir, `f${i}.bin`))))).toBe(
        sha256Of(200_000 + i, 40 + i),
      );
    }
    expect(run.stderr).toContain("404");
    expect(run.stderr).toContain("dlm: 4 files: 3 finished");
    expect(run.stderr).toContain("1 failed");
  }, 60_000);

  test("on a terminal a status line is redrawn in place and cleared before each result line", async () => {
    const dir = await dirs.fresh();
    const urls = [0, 1, 2].map((i) =>
      origin.serve(`/tty/f${i}.bin`, { size: 600_000, seed: 70 + i, throttleBytesPerSec: 512 * 1024 }),
    );
    // script(1) gives the child a real pseudo-terminal (stdout and stderr both on it).
    const command = [BUN_BIN, MAIN_TS, "get", ...urls, "-j", "2"].map((a) => `'${a}'`).join(" ");
    const child = Bun.spawn(["script", "-qefc", command, "/dev/null"], {
      cwd: dir,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const [output, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    clearTimeout(timer);
    expect(code).toBe(EXIT.OK);
    // At 512 KiB/s each file takes over a second: several redraws of "N/3 done".
    const clear = "\r\x1b[K";
    expect(output).toContain(`${clear}dlm: 0/3 done, 2 running`);
    // Each result line starts at the start of a line: right after a clear or a previous line, never after
    // a half-drawn status line.
    for (let i = 0; i < 3; i++) {
      const line = `${join(dir, `f${i}.bin`)}  600000 bytes  sha256 ${sha256Of(600_000, 70 + i)}`;
      const at = output.indexOf(line);
      expect(at).toBeGreaterThan(0);
      const before = output.slice(0, at);
      expect(before.endsWith(clear) || before.endsWith("\n")).toBe(true);
    }
    expect(output).toContain("dlm: 3 files: 3 finished");
  }, 60_000);

  test("-i FILE (aria2 format) with out= and dir=, --json records, exit 0 when all finish", async () => {
    const dir = await dirs.fresh();
    const a = origin.serve("/b/a.bin", { size: 3000, seed: 50 });
    const b = origin.serve("/b/b.bin", { size: 4000, seed: 51 });
    await Bun.write(join(dir, "list.txt"), `${a}\n  out=first.bin\n${b}\n  dir=sub\n`);
    const run = await runDlm(["get", "-i", "list.txt", "--json"], { cwd: dir });
    expect(run.exitCode).toBe(EXIT.OK);
    const records = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r["type"] === "result").length).toBe(2);
    expect(records.at(-1)).toEqual({ type: "summary", files: 2, finished: 2, failed: 0, bytes: 7000 });
    expect(sha256Hex(new Uint8Array(await readFile(join(dir, "first.bin"))))).toBe(sha256Of(3000, 50));
    expect(sha256Hex(new Uint8Array(await readFile(join(dir, "sub", "b.bin"))))).toBe(sha256Of(4000, 51));
  }, 60_000);

  test("files at once share the hash thread: every checksum= is checked, a wrong one fails alone", async () => {
    const dir = await dirs.fresh();
    const size = 2 << 20;
    // Paced, so the six overlap: the first is hashed on the download thread, the others on the shared one.
    const lines = [0, 1, 2, 3, 4, 5].map((i) => {
      const url = origin.serve(`/h/f${i}.bin`, { size, seed: 60 + i, throttleBytesPerSec: 8 << 20 });
      const digest = i === 5 ? "0".repeat(64) : sha256Of(size, 60 + i);
      return `${url}\n  checksum=sha-256=${digest}\n`;
    });
    await Bun.write(join(dir, "list.txt"), lines.join(""));
    const run = await runDlm(["get", "-i", "list.txt", "-j", "6", "-c", "1"], { cwd: dir });
    expect(run.exitCode).toBe(EXIT.INTEGRITY);
    expect(run.stderr).toContain("f5.bin: sha256 mismatch");
    for (const i of [0, 1, 2, 3, 4]) {
      const bytes = new Uint8Array(await readFile(join(dir, `f${i}.bin`)));
      expect(sha256Hex(bytes)).toBe(sha256Of(size, 60 + i));
    }
    expect(await Bun.file(join(dir, "f5.bin")).exists()).toBe(false);
  }, 60_000);

  test("flags for one file are refused with several URLs; no URL at all is a usage error", async () => {
    const dir = await dirs.fresh();
    const twoWithOutput = await runDlm(["get", origin.url("/x"), origin.url("/y"), "-o", "z"], { cwd: dir });
    expect(twoWithOutput.exitCode).toBe(EXIT.USAGE);
    expect(twoWithOutput.stderr).toBe("dlm: --output: applies to one URL, not to a batch\n");
    const none = await runDlm(["get"], { cwd: dir });
    expect(none.exitCode).toBe(EXIT.USAGE);
  });

  test("dlm get --limit paces one download (1 MiB at 256K takes about 3.75 s)", async () => {
    const dir = await dirs.fresh();
    const url = origin.serve("/b/limited.bin", { size: 1 << 20, seed: 60 });
    const run = await runDlm(["get", url, "--limit", "256K", "--quiet"], { cwd: dir });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(new Uint8Array(await readFile(join(dir, "limited.bin"))))).toBe(sha256Of(1 << 20, 60));
    // Start-up of the CLI adds a little; without the limit this takes well under a second.
    expect(run.elapsedMs).toBeGreaterThan(3_400);
    expect(run.elapsedMs).toBeLessThan(8_000);
  }, 60_000);

  test("a low --limit never stalls a connection into a stall-timeout retry", async () => {
    const dir = await dirs.fresh();
    origin.resetStats();
    const url = origin.serve("/b/trickle.bin", { size: 40 * 1024, seed: 61 });
    // 16 KiB pass at once (the burst), the other 24 KiB at 4 KiB/s: about 6 s, with a 2 s stall timeout.
    const run = await runDlm(["get", url, "--limit", "4K", "--stall-timeout", "2s", "--quiet"], { cwd: dir });
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(new Uint8Array(await readFile(join(dir, "trickle.bin"))))).toBe(sha256Of(40 * 1024, 61));
    expect(run.elapsedMs).toBeGreaterThan(5_500);
    // One request (the probe asks for the whole file with one connection, and its answer is the download):
    // no retry after a stall.
    expect(origin.stats.requests.filter((r) => r.path === "/b/trickle.bin").length).toBe(1);
  }, 60_000);
});
