import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { waitFor } from "../control/fixture.ts";
import { BUN_BIN, MAIN_TS, makeTempDir, removeDir, runDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

// `dlm watch FILE` end to end: under a pseudo-terminal (util-linux `script`) it redraws a status line and a
// coloured segment map in place; through pipes it prints plain lines. Both follow one real download.
const SCRIPT = "/usr/bin/script";
const SIZE = 20 * 1024 * 1024;
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, "g");
let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await makeTempDir("dlm-watch-view-");
});

afterAll(async () => {
  await origin.close();
  await removeDir(dir);
});

/** The text a terminal would show after `raw`'s last redraw: the lines after the last clear. */
function lastFrame(raw: string): string[] {
  const frame = raw.slice(raw.lastIndexOf("\x1b[J") + 3);
  return frame.replace(ANSI, "").split(/\r?\n/);
}

describe.skipIf(!existsSync(SCRIPT))("dlm watch", () => {
  test("TTY: status and segment map redrawn in place, coloured; plain lines through a pipe", async () => {
    const url = origin.serve("/watched.bin", { size: SIZE, seed: 4, throttleBytesPerSec: 1024 * 1024 });
    const get = Bun.spawn(
      [BUN_BIN, MAIN_TS, "get", url, "-o", "watched.bin", "-c", "4", "--listen", "0", "--quiet"],
      {
        cwd: dir,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const control = join(dir, "watched.bin.dlm", "control.json");
    await waitFor("control.json", () => existsSync(control), 15_000);
    // A 90-column pseudo-terminal; `script -e` exits with the command's code.
    const command = `stty cols 90 rows 20; exec ${BUN_BIN} ${MAIN_TS} watch watched.bin`;
    const env: Record<string, string | undefined> = { ...process.env, TERM: "xterm-256color" };
    delete env["NO_COLOR"];
    const tty = Bun.spawn([SCRIPT, "-qfec", command, "/dev/null"], {
      cwd: dir,
      env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const plain = runDlm(["watch", "watched.bin"], { cwd: dir, timeoutMs: 40_000 });
    const [raw, ttyExit, piped, getExit] = await Promise.all([
      new Response(tty.stdout).text(),
      tty.exited,
      plain,
      get.exited,
    ]);
    expect(getExit).toBe(EXIT.OK);

    expect(ttyExit).toBe(EXIT.OK);
    // Redrawn in place: cursor up one line, back to column 0, clear to the end of the screen.
    expect(raw.split("\x1b[1A\r\x1b[J").length).toBeGreaterThan(5);
    expect(raw).toContain("\x1b[34m");
    expect(raw).toContain("\x1b[32m");
    const [status, map, result] = lastFrame(raw);
    expect(status).toStartWith("finished  100.0%  20.0 MiB / 20.0 MiB");
    expect(map).toBe(`▕${"█".repeat(87)}▏`);
    expect(result).toBe(`${join(dir, "watched.bin")}  finished  ${SIZE} bytes`);
    // Mid-download frames had pending cells and partly filled ones.
    expect(raw).toMatch(/running .*\r\n▕.*[░▒▓].*·/);

    expect(piped.exitCode).toBe(EXIT.OK);
    expect(piped.stderr).not.toMatch(ANSI);
    const lines = piped.stderr.split("\n").filter((line) => line.startsWith("running"));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) expect(line).toMatch(/^running .* conn {2}▕[·░▒▓█]{40}▏$/);
    expect(piped.stdout).toBe(`${join(dir, "watched.bin")}  finished  ${SIZE} bytes\n`);
  }, 50_000);
});
