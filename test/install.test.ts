// `npm install -g .` gives a working `dlm`: installed into a temp prefix (npm links the checkout, whose
// node_modules hold the Bun that bin/dlm runs), started from a directory outside the checkout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { EXIT } from "../src/exit-codes.ts";
import { progressAtLeast } from "./badweather/harness.ts";
import { sha256Of } from "./helpers/bytes.ts";
import { REPO_ROOT, runCommand, tempDirs } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

const npm = Bun.which("npm");
const dirs = tempDirs("dlm-install-");
let dlm: string;
let work: string;
let origin: Origin;

/** Runs `command` in `cwd` (stdin closed, output captured), bounded by `timeoutMs`. */
function run(command: readonly string[], cwd: string, timeoutMs = 60_000) {
  return runCommand(command, cwd, { timeoutMs });
}

const why = npm === null ? " (skipped: npm not on PATH)" : "";
describe.skipIf(npm === null)(`npm install -g . gives dlm${why}`, () => {
  beforeAll(async () => {
    const prefix = await dirs.fresh();
    const installed = await run(
      [
        npm ?? "npm",
        "install",
        "-g",
        "--prefix",
        prefix,
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        REPO_ROOT,
      ],
      REPO_ROOT,
    );
    if (installed.exitCode !== 0) throw new Error(`npm install -g failed: ${installed.stderr}`);
    dlm = join(prefix, "bin", "dlm");
    // The user's directory, with a .env and a bunfig.toml the installed command must not load.
    work = await dirs.fresh();
    await writeFile(join(work, ".env"), "DLM_LOG=not-a-level\n");
    await writeFile(
      join(work, "preload.ts"),
      `await Bun.write(${JSON.stringify(join(work, "PRELOADED"))}, "x");\n`,
    );
    await writeFile(join(work, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    origin = await startOrigin();
  }, 90_000);

  afterAll(async () => {
    await origin?.close();
    await dirs.removeAll();
  });

  test("dlm --version", async () => {
    const r = await run([dlm, "--version"], work);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(packageJson.version);
  });

  test("a download lands in the user's directory, not the package's", async () => {
    const url = origin.serve("/installed.bin", { size: 200_000, seed: 51 });
    const r = await run([dlm, "get", url, "-o", "installed.bin", "--quiet"], work);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(EXIT.OK);
    const hasher = new Bun.CryptoHasher("sha256");
    hasher.update(await Bun.file(join(work, "installed.bin")).arrayBuffer());
    expect(hasher.digest("hex")).toBe(sha256Of(200_000, 51));
    expect(existsSync(join(work, "PRELOADED"))).toBe(false);
  });

  test("one Ctrl+C (SIGINT to the whole process group, as a terminal sends it) pauses cleanly: exit 130, state saved", async () => {
    const url = origin.serve("/ctrl-c.bin", { size: 8 << 20, throttleBytesPerSec: 512 * 1024 });
    // detached: its own process group, like a shell job, so the group can be signalled as a terminal does.
    const child = spawn(dlm, ["get", url, "-o", "ctrl-c.bin", "--json"], {
      cwd: work,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid ?? 0;
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const running = new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no progress within 20 s; stderr: ${stderr}`)), 20_000);
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.split("\n").some(progressAtLeast(256 * 1024))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await running;
      // The launcher exec'd Bun: the process started as bin/dlm is dlm itself, nothing sits in between.
      if (existsSync(`/proc/${pid}/cmdline`))
        expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain(join("src", "main.ts"));
      process.kill(-pid, "SIGINT");
      expect(await exited).toBe(EXIT.INTERRUPTED);
    } finally {
      if (child.exitCode === null) process.kill(-pid, "SIGKILL");
    }
    // The pause path ran to its end (a second SIGINT would have exited at once, before this hint).
    expect(stderr).toContain("dlm resume");
    expect(existsSync(join(work, "ctrl-c.bin.dlm", "state.json"))).toBe(true);
  });
});
