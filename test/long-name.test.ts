// A name from the server longer than the file system allows (255 bytes, counting the ".dlm" of the sidecar)
// is shortened, keeping its extension, instead of failing with a storage error.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256File } from "./badweather/harness.ts";
import { sha256Of } from "./helpers/bytes.ts";
import { listDir, runDlm, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
const dirs = tempDirs("dlm-long-name-");

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

const bytes = (text: string): number => new TextEncoder().encode(text).length;

test("a 300-byte name in the URL becomes a 251-byte name that keeps .bin", async () => {
  const stem = "n".repeat(296);
  const url = origin.serve(`/${stem}.bin`, { size: 100_000 });
  const cwd = await dirs.fresh();
  const run = await runDlm(["get", url, "-c", "2", "--quiet"], { cwd });
  expect(run.stderr).toBe("");
  expect(run.exitCode).toBe(EXIT.OK);
  const [name, ...others] = await listDir(cwd);
  expect(others).toEqual([]);
  expect(name).toBe(`${"n".repeat(247)}.bin`);
  expect(bytes(`${name}.dlm`)).toBe(255);
  expect(await sha256File(join(cwd, name ?? ""))).toBe(sha256Of(100_000));
});

test("a long UTF-8 Content-Disposition name (filename*) is shortened too", async () => {
  const long = `${"отчёт-".repeat(40)}2026.pdf`;
  const url = origin.serve("/report", {
    size: 50_000,
    contentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(long)}`,
  });
  const cwd = await dirs.fresh();
  const run = await runDlm(["get", url, "--quiet"], { cwd });
  expect(run.exitCode).toBe(EXIT.OK);
  const [name] = await listDir(cwd);
  expect(name).toEndWith(".pdf");
  expect(name).toStartWith("отчёт-отчёт-");
  expect(bytes(name ?? "")).toBeLessThanOrEqual(251);
  expect(existsSync(join(cwd, `${name}.dlm`))).toBe(false);
});
