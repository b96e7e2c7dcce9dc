// --version, help that shows every flag's default, and shell completion, run as users run them.
import { afterAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { EXIT } from "../src/exit-codes.ts";
import { fullApplication } from "../src/interfaces/cli/app.ts";
import type { CliContext } from "../src/interfaces/cli/cli-context.ts";
import { completionsFor } from "../src/interfaces/cli/complete.ts";
import { completionScript, SHELLS } from "../src/interfaces/cli/completion-scripts.ts";
import { REPO_ROOT, runDlm, tempDirs } from "./helpers/cli.ts";

const dirs = tempDirs("dlm-conveniences-");
afterAll(() => dirs.removeAll());

test("--version and -v print package.json's version", async () => {
  const cwd = await dirs.fresh();
  for (const flag of ["--version", "-v"]) {
    const r = await runDlm([flag], { cwd });
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.stdout.trim()).toBe(packageJson.version);
  }
});

describe("help", () => {
  test.each(["get", "resume", "status", "pause", "cancel", "watch"])(
    "dlm %s --help gives every flag's default",
    async (command) => {
      const r = await runDlm([command, "--help"], { cwd: await dirs.fresh() });
      expect(r.exitCode).toBe(EXIT.OK);
      const flags = r.stdout.split("FLAGS\n")[1]?.split("\n\n")[0]?.split("\n") ?? [];
      const rows = flags.filter((row) => !row.includes("--help"));
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.filter((row) => !/\(default[ :]/.test(row))).toEqual([]);
    },
  );

  test("get's defaults come from the engine's (so the text cannot drift)", async () => {
    const r = await runDlm(["get", "--help"], { cwd: await dirs.fresh() });
    expect(r.stdout).toContain("(default 8; 1 when the server ignores Range)");
    expect(r.stdout).toContain("(default 30s;");
    expect(r.stdout).toContain("(default in-place)");
    expect(r.stdout).toContain("(default 1M)");
  });
});

describe("completion", () => {
  const context = {} as CliContext;
  test.each([
    [
      ["dlm", ""],
      {},
      [
        "get",
        "resume",
        "status",
        "pause",
        "cancel",
        "watch",
        "completion",
        "serve",
        "add",
        "ls",
        "info",
        "rm",
        "limit",
        "update",
      ],
    ],
    [["dlm", "re"], {}, ["resume"]],
    [["dlm", "get", "--con"], {}, ["--connections"]],
    [["dlm", "completion", "z"], {}, ["zsh"]],
    // The @stricli/auto-complete hook passes an unquoted $COMP_LINE: its trailing space is the empty word.
    [
      ["dlm", "completion"],
      { COMP_LINE: "dlm completion " },
      ["bash", "zsh", "fish", "install", "uninstall"],
    ],
  ] as const)("%p -> %p", async (words, env, expected) => {
    expect(await completionsFor(fullApplication(), words, env, context)).toEqual([...expected]);
  });

  test("dlm __complete prints one proposal per line", async () => {
    const r = await runDlm(["__complete", "dlm", "get", "--checkp"], { cwd: await dirs.fresh() });
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.stdout).toBe("--checkpoint-interval\n");
  });

  test.each(SHELLS)("dlm completion %s prints the script", async (shell) => {
    const r = await runDlm(["completion", shell], { cwd: await dirs.fresh() });
    expect(r.exitCode).toBe(EXIT.OK);
    expect(r.stdout).toBe(completionScript(shell));
    expect(r.stdout).toContain("dlm __complete");
  });

  // Real shells where installed (.ci/run does not install zsh or fish; bash is tested through the binary
  // in binary.test.ts). bin/dlm, the installed command, is what the scripts find on PATH.
  const PATH = `${join(REPO_ROOT, "bin")}:${process.env["PATH"]}`;
  const shellChecks = {
    // compadd and _files are compsys builtins; stand-ins print what the script offers.
    zsh: [
      "compdef() { :; }",
      "source <(dlm completion zsh)",
      `compadd() { [[ $1 == -a ]] && print -l -- \${(P)2}; }`,
      "_files() { :; }",
      "words=(dlm get --conn); CURRENT=3; _dlm",
    ].join("\n"),
    fish: 'dlm completion fish | source; complete -C "dlm get --conn"',
  } as const;
  test.each(["zsh", "fish"] as const)(
    "the %s script completes (when that shell is installed)",
    async (shell) => {
      const bin = Bun.which(shell);
      if (bin === null) {
        console.log(`skipped: ${shell} is not installed`);
        return;
      }
      const args = shell === "zsh" ? ["-f", "-c", shellChecks.zsh] : ["--no-config", "-c", shellChecks.fish];
      const r = Bun.spawnSync([bin, ...args], { cwd: await dirs.fresh(), env: { ...process.env, PATH } });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe("--connections\n");
    },
  );

  test("install / uninstall edit only the ~/.bashrc of HOME (a temp dir here), keeping what was there", async () => {
    const home = await dirs.fresh();
    await writeFile(join(home, ".bashrc"), "# mine\n");
    const env = { HOME: home, SHELL: "/bin/bash" };
    const installed = await runDlm(["completion", "install"], { cwd: home, env });
    expect(installed.exitCode).toBe(EXIT.OK);
    const rc = await readFile(join(home, ".bashrc"), "utf8");
    expect(rc).toStartWith("# mine\n");
    expect(rc).toContain("dlm __complete $COMP_LINE");
    expect(rc).toContain("complete -o default -o nospace -F __dlm_complete dlm");
    const removed = await runDlm(["completion", "uninstall"], { cwd: home, env });
    expect(removed.exitCode).toBe(EXIT.OK);
    expect(await readFile(join(home, ".bashrc"), "utf8")).not.toContain("dlm");
  });
});
