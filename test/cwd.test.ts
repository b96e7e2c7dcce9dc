// Relative paths mean the directory the user ran dlm in, however dlm was started. `bun run dlm` runs the
// package's script in the package's directory, so these runs start from a subdirectory of the checkout
// (under the gitignored test-artifacts/) and check where the files land.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { userDirectory } from "../src/context.ts";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Hex, sha256Of } from "./helpers/bytes.ts";
import { BUN_BIN, REPO_ROOT, removeDir } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

let origin: Origin;
let subdir: string;

beforeAll(async () => {
  origin = await startOrigin();
  await mkdir(join(REPO_ROOT, "test-artifacts"), { recursive: true });
  subdir = await mkdtemp(join(REPO_ROOT, "test-artifacts", "cwd-"));
});

afterAll(async () => {
  await origin.close();
  await removeDir(subdir);
});

/** Runs `command...` in `cwd` with the package-runner variables of the parent removed (as from a shell). */
async function spawnIn(cwd: string, command: readonly string[]) {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of ["INIT_CWD", "npm_lifecycle_event", "npm_package_name", "npm_config_local_prefix"])
    delete env[name];
  const child = Bun.spawn([...command], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [exitCode, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { exitCode, stdout, stderr };
}

describe("bun run dlm from a subdirectory of the checkout", () => {
  test("-o writes the file in that subdirectory, not at the checkout's root", async () => {
    const url = origin.serve("/cwd-o.bin", { size: 40_000, seed: 31 });
    const run = await spawnIn(subdir, [
      BUN_BIN,
      "run",
      "--silent",
      "dlm",
      "get",
      url,
      "-o",
      "here.bin",
      "--quiet",
    ]);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(EXIT.OK);
    expect(sha256Hex(new Uint8Array(await Bun.file(join(subdir, "here.bin")).arrayBuffer()))).toBe(
      sha256Of(40_000, 31),
    );
    expect(existsSync(join(REPO_ROOT, "here.bin"))).toBe(false);
  });

  test("the default output name (from the URL) lands there too", async () => {
    const url = origin.serve("/cwd-default.bin", { size: 1000, seed: 32 });
    const run = await spawnIn(subdir, [BUN_BIN, "run", "--silent", "dlm", "get", url, "--quiet"]);
    expect(run.exitCode).toBe(EXIT.OK);
    expect(existsSync(join(subdir, "cwd-default.bin"))).toBe(true);
    expect(existsSync(join(REPO_ROOT, "cwd-default.bin"))).toBe(false);
  });

  test("npx bun run dlm (npx sets INIT_CWD) lands there too", async () => {
    const url = origin.serve("/cwd-npx.bin", { size: 1000, seed: 33 });
    const run = await spawnIn(subdir, [
      "npx",
      "--no",
      "bun",
      "run",
      "--silent",
      "dlm",
      "get",
      url,
      "-o",
      "npx.bin",
      "--quiet",
    ]);
    expect(run.exitCode).toBe(EXIT.OK);
    expect(existsSync(join(subdir, "npx.bin"))).toBe(true);
  });

  test("dlm resume FILE reads FILE.dlm from that subdirectory", async () => {
    const run = await spawnIn(subdir, [BUN_BIN, "run", "--silent", "dlm", "resume", "missing.bin"]);
    expect(run.exitCode).toBe(EXIT.STATE_FILE);
    expect(run.stderr).toContain(`${join(subdir, "missing.bin.dlm", "state.json")}: cannot read`);
  });
});

describe("userDirectory", () => {
  const script = { npm_lifecycle_event: "dlm", npm_package_name: "dlm" };
  test.each([
    [
      "npm run dlm: INIT_CWD",
      { ...script, INIT_CWD: "/home/u/sub", npm_config_local_prefix: "/repo" },
      false,
      "/home/u/sub",
    ],
    [
      "bun run dlm (Bun 1.4): npm_config_local_prefix",
      { ...script, npm_config_local_prefix: "/home/u/sub" },
      false,
      "/home/u/sub",
    ],
    ["no package runner", { INIT_CWD: "/elsewhere" }, false, "/repo"],
    [
      "another package's script named dlm",
      { ...script, npm_package_name: "other", INIT_CWD: "/x" },
      false,
      "/repo",
    ],
    ["the compiled binary ignores the runner", { ...script, INIT_CWD: "/home/u/sub" }, true, "/repo"],
    ["a relative INIT_CWD is not trusted", { ...script, INIT_CWD: "sub" }, false, "/repo"],
  ] as const)("%s", (_name, env, standalone, expected) => {
    expect(userDirectory(env, "/repo", standalone)).toBe(expected);
  });
});
