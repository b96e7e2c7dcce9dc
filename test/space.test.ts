import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bytesToWrite } from "../src/engine/storage/free-space.ts";
import { EXIT } from "../src/exit-codes.ts";
import { listDir, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

describe("bytesToWrite", () => {
  test.each([
    // [storage, output bytes, stored bytes, needed]
    ["in-place", 1000, 0, 1000],
    ["in-place", 1000, 400, 600],
    ["in-place", 1000, 1000, 0],
    ["in-place", 1000, 1200, 0], // blocks rounded up past the size
    // Parts: what is missing, plus the assembly's copy of the parts onto the first.
    ["parts", 1000, 0, 2000],
    ["parts", 1000, 400, 1600],
    ["parts", 1000, 1000, 1000],
  ] as const)("%s, %p bytes, %p stored -> %p", (storage, outputBytes, storedBytes, needed) => {
    expect(bytesToWrite({ storage, outputBytes, storedBytes })).toBe(needed);
  });
});

let origin: Origin;
const dirs = tempDirs("dlm-space-");
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

test("a Content-Length beyond 2^53 is STORAGE naming the size, before anything is written", async () => {
  // 2^60 bytes, no Range: the probe's 200 carries "Content-Length: 1152921504606846976".
  const url = origin.serve("/huge.bin", { size: 2 ** 60, ignoreRange: true });
  const cwd = await dirs.fresh();
  const run = await runDlm(["get", url, "-o", "huge.bin"], { cwd });
  expect(run.exitCode).toBe(EXIT.STORAGE);
  const lines = run.stderr.split("\n").filter((l) => l.startsWith("dlm: "));
  expect(lines.at(-1)).toContain(
    `${url} says the file is 1152921504606846976 bytes, beyond the 2^53 - 1 bytes`,
  );
  expect(await listDir(cwd)).toEqual([]);
});
