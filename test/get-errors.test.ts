import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Of } from "./helpers/bytes.ts";
import { jsonLines, listDir, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
const dirs = tempDirs();
const freshDir = dirs.fresh;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** Lines of stderr, without the empty one after the final newline. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

function requestsFor(path: string): number {
  return origin.stats.requests.filter((r) => r.path === path).length;
}

/** A port on 127.0.0.1 that the OS just handed out and nothing listens on any more. */
function closedPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

describe("dlm get: bad flags fail before any I/O", () => {
  // [args after the URL, flag named in the message, value named in the message]
  const cases: [string[], string, string][] = [
    [["-c", "0"], "--connections", "0"],
    [["-c", "65"], "--connections", "65"],
    [["-c", "abc"], "--connections", "abc"],
    [["--range-start", "-1"], "--range-start", "-1"],
    [["--range-start", "10", "--range-end", "5"], "--range-end", "5"],
    [["--checksum", "junk"], "--checksum", "junk"],
    [["--checksum", "sha256:abc"], "--checksum", "sha256:abc"],
    [["-H", "bad"], "--header", "bad"],
    [["-H", "Range: bytes=0-1"], "--header", "Range: bytes=0-1"],
    [["-H", "X-Name: файл"], "--header", "X-Name: файл"],
    [["-H", "X-Bell: a\u0007b"], "--header", "X-Bell: a\u0007b"],
    [["--storage", "x"], "--storage", "x"],
    [["--stall-timeout", "0"], "--stall-timeout", "0"],
    [["--min-split", "0"], "--min-split", "0"],
    [["--retries", "many"], "--retries", "many"],
    [["-o", ""], "--output", ""],
  ];
  test.each(cases)("%p names %s and the value", async (args, flag, value) => {
    const path = "/never-asked.bin";
    const url = origin.serve(path, { size: 1000 });
    const cwd = await freshDir();
    const run = await runDlm(["get", url, ...args], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    const errors = lines(run.stderr);
    expect(errors.length).toBe(1);
    expect(errors[0]).toStartWith(`dlm: ${flag}: `);
    expect(errors[0]).toContain(JSON.stringify(value));
    expect(run.stdout).toBe("");
    expect(await listDir(cwd)).toEqual([]);
    expect(requestsFor(path)).toBe(0);
  });

  test.each([
    ["not a url", "expected an absolute"],
    ["ftp://127.0.0.1/file.bin", "only http:// and https://"],
  ])("URL %p is refused", async (url, why) => {
    const cwd = await freshDir();
    const before = origin.stats.requests.length;
    const run = await runDlm(["get", url], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(lines(run.stderr)).toEqual([expect.stringContaining(`dlm: URL: ${why}`)]);
    expect(run.stderr).toContain(JSON.stringify(url));
    expect(await listDir(cwd)).toEqual([]);
    expect(origin.stats.requests.length).toBe(before);
  });

  test("an unknown flag is a usage error with a suggestion", async () => {
    const cwd = await freshDir();
    const run = await runDlm(["get", origin.url("/x"), "--connectoins", "4"], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(lines(run.stderr)).toEqual([expect.stringContaining("--connections")]);
  });
});

describe("dlm get: failures", () => {
  test("404 exits HTTP_STATUS naming the status and the URL, and leaves nothing", async () => {
    const cwd = await freshDir();
    const url = origin.url("/missing.bin");
    const run = await runDlm(["get", url, "--json"], { cwd });
    expect(run.exitCode).toBe(EXIT.HTTP_STATUS);
    expect(lines(run.stderr)).toEqual([expect.stringMatching(/^dlm: .*404/)]);
    expect(run.stderr).toContain(url);
    expect(jsonLines(run.stdout).at(-1)).toMatchObject({ type: "error", exitCode: EXIT.HTTP_STATUS });
    expect(await listDir(cwd)).toEqual([]);
  });

  test("connection refused exits NETWORK", async () => {
    const cwd = await freshDir();
    const url = `http://127.0.0.1:${closedPort()}/file.bin`;
    const run = await runDlm(["get", url], { cwd, timeoutMs: 20_000 });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(lines(run.stderr)).toEqual([expect.stringContaining("connection refused")]);
    expect(run.stderr).toContain(url);
    expect(await listDir(cwd)).toEqual([]);
  });

  test.each(["sha256", "blake3"])(
    "%s mismatch exits INTEGRITY with nothing under the final name",
    async (algorithm) => {
      const url = origin.serve(`/bad-sum-${algorithm}.bin`, { size: 300_001 });
      const cwd = await freshDir();
      const wrong = "0".repeat(64);
      const run = await runDlm(
        ["get", url, "-o", "out.bin", "-c", "4", "--min-split", "4K", "--checksum", `${algorithm}:${wrong}`],
        { cwd },
      );
      expect(run.exitCode).toBe(EXIT.INTEGRITY);
      expect(run.stderr).toContain("mismatch");
      expect(run.stderr).toContain(wrong);
      expect(existsSync(join(cwd, "out.bin"))).toBe(false);
      expect(run.stdout).toBe("");
    },
  );

  test("an existing output without --force exits OUTPUT_EXISTS and is untouched", async () => {
    const url = origin.serve("/exists.bin", { size: 5000 });
    const cwd = await freshDir();
    const target = join(cwd, "exists.bin");
    await writeFile(target, "precious\n");
    const mtime = statSync(target).mtimeMs;
    for (const args of [[], ["-o", "exists.bin"]]) {
      const run = await runDlm(["get", url, ...args], { cwd });
      expect(run.exitCode).toBe(EXIT.OUTPUT_EXISTS);
      expect(lines(run.stderr)).toEqual([expect.stringContaining(target)]);
      expect(run.stderr).toContain("--force");
    }
    expect(await readFile(target, "utf8")).toBe("precious\n");
    expect(statSync(target).mtimeMs).toBe(mtime);
    expect(await listDir(cwd)).toEqual(["exists.bin"]);
  });

  test("a slice asked of a server ignoring Range exits RANGE_NOT_SUPPORTED, never a whole body", async () => {
    const url = origin.serve("/no-range-slice.bin", { size: 100_000, ignoreRange: true });
    const cwd = await freshDir();
    const run = await runDlm(["get", url, "-o", "slice", "--range-start", "10", "--range-end", "20"], {
      cwd,
    });
    expect(run.exitCode).toBe(EXIT.RANGE_NOT_SUPPORTED);
    expect(lines(run.stderr).at(-1)).toContain(url);
    expect(await listDir(cwd)).toEqual([]);
  });

  test("--range-start beyond the end of the file is a usage error naming the flag", async () => {
    const url = origin.serve("/short.bin", { size: 100 });
    const cwd = await freshDir();
    const run = await runDlm(["get", url, "-o", "slice", "--range-start", "100"], { cwd });
    expect(run.exitCode).toBe(EXIT.USAGE);
    expect(lines(run.stderr).at(-1)).toContain("--range-start");
    expect(await listDir(cwd)).toEqual([]);
  });

  test("a failed run leaves a later good run unharmed", async () => {
    const url = origin.serve("/after-failure.bin", { size: 100_000 });
    const cwd = await freshDir();
    const bad = await runDlm(["get", url, "--checksum", `sha256:${"1".repeat(64)}`], { cwd });
    expect(bad.exitCode).toBe(EXIT.INTEGRITY);
    const good = await runDlm(["get", url, "--restart"], { cwd });
    expect(good.exitCode).toBe(EXIT.OK);
    expect(good.stdout).toContain(sha256Of(100_000));
    expect(await listDir(cwd)).toEqual(["after-failure.bin"]);
  });
});
