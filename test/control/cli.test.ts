import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { sha256Of } from "../helpers/bytes.ts";
import { BUN_BIN, jsonLines, MAIN_TS, makeTempDir, removeDir, runDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { waitFor } from "./fixture.ts";

// The client commands against a real `dlm get --listen` process, all spawned as `bun src/main.ts`.
let origin: Origin;
let dir: string;
const SIZE = 16 * 1024 * 1024;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await makeTempDir("dlm-control-cli-");
});

afterAll(async () => {
  await origin.close();
  await removeDir(dir);
});

/** A dlm process running in the background, with its output collected. */
function spawnDlm(args: readonly string[]) {
  const child = Bun.spawn([BUN_BIN, MAIN_TS, ...args], {
    cwd: dir,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // Read stdout as it comes, so a test can wait for the first line (e.g. a watcher that is connected).
  let markFirst: () => void = () => undefined;
  const firstOutput = new Promise<void>((resolve) => {
    markFirst = resolve;
  });
  const stdout = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      markFirst();
    }
    markFirst();
    return text;
  })();
  const stderr = new Response(child.stderr).text();
  const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const done = child.exited.then(async (exitCode) => {
    clearTimeout(timer);
    return { exitCode, stdout: await stdout, stderr: await stderr };
  });
  return { child, done, firstOutput };
}

const dlm = (args: readonly string[]) => runDlm(args, { cwd: dir });
const controlPath = (name: string) => join(dir, `${name}.dlm`, "control.json");

async function startPaced(name: string, extra: readonly string[] = []) {
  const url = origin.serve(`/${name}`, { size: SIZE, seed: 3, throttleBytesPerSec: 1024 * 1024 });
  const get = spawnDlm(["get", url, "-o", name, "-c", "4", ...extra]);
  await waitFor(`${controlPath(name)} to appear`, () => existsSync(controlPath(name)), 15_000);
  return get;
}

describe("dlm get --listen", () => {
  test("control.json (0600) leads status, pause, resume and watch to the live process", async () => {
    const get = await startPaced("live.bin", ["--listen", "0"]);
    const info = await stat(controlPath("live.bin"));
    expect(info.mode & 0o777).toBe(0o600);
    const control = JSON.parse(await readFile(controlPath("live.bin"), "utf8"));
    expect(Object.keys(control).sort()).toEqual(["http", "pid", "rpc", "token"]);
    expect(control.pid).toBe(get.child.pid);
    expect(control.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(control.rpc).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(control.token.length).toBeGreaterThanOrEqual(32);

    const watch = spawnDlm(["watch", "live.bin", "--json"]);
    const status = await dlm(["status", "live.bin", "--json"]);
    expect(status.exitCode).toBe(EXIT.OK);
    expect(JSON.parse(status.stdout)).toMatchObject({ download: join(dir, "live.bin"), totalBytes: SIZE });

    const pause = await dlm(["pause", "live.bin"]);
    expect([pause.exitCode, pause.stdout]).toEqual([EXIT.OK, `${join(dir, "live.bin")}: paused\n`]);
    const paused = await dlm(["status", "live.bin"]);
    expect(paused.stdout.split("\n")[0]).toContain("  paused  ");
    expect(paused.stdout).toContain("segment 0");

    // The live process answers, so resume goes to it: no second download in this process.
    const resume = await dlm(["resume", "live.bin"]);
    expect([resume.exitCode, resume.stdout]).toEqual([EXIT.OK, `${join(dir, "live.bin")}: running\n`]);

    const got = await get.done;
    expect(got.exitCode).toBe(EXIT.OK);
    expect(got.stdout).toContain(`sha256 ${sha256Of(SIZE, 3)}`);
    expect(got.stderr).toContain(`dlm: control API ${control.http}, progress stream ${control.rpc}`);
    const watched = await watch.done;
    expect(watched.exitCode).toBe(EXIT.OK);
    const records = jsonLines(watched.stdout);
    expect(records.at(-1)).toEqual({
      type: "result",
      state: "finished",
      path: join(dir, "live.bin"),
      bytes: SIZE,
    });
    expect(existsSync(join(dir, "live.bin.dlm"))).toBe(false);
  }, 60_000);

  test("dlm cancel ends it with CANCELLED, and dlm watch exits CANCELLED too (--listen-any binds all)", async () => {
    const get = await startPaced("cancel.bin", ["--listen-any", "--listen", "0"]);
    const control = JSON.parse(await readFile(controlPath("cancel.bin"), "utf8"));
    expect(control.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const watch = spawnDlm(["watch", "cancel.bin", "--json"]);
    // Cancel only once the watcher is connected and has printed progress.
    await watch.firstOutput;
    const cancel = await dlm(["cancel", "cancel.bin", "--json"]);
    expect(cancel.exitCode).toBe(EXIT.OK);
    expect(JSON.parse(cancel.stdout)).toMatchObject({
      type: "command",
      command: "cancel",
      state: "cancelled",
    });
    expect((await get.done).exitCode).toBe(EXIT.CANCELLED);
    const watched = await watch.done;
    expect(watched.exitCode).toBe(EXIT.CANCELLED);
    expect(watched.stderr).toContain("cancelled");
    expect(existsSync(join(dir, "cancel.bin.dlm"))).toBe(false);
    const again = await dlm(["pause", "cancel.bin"]);
    expect(again.exitCode).toBe(EXIT.USAGE);
    expect(again.stderr).toContain("dlm get --listen");
  }, 60_000);

  test("dlm resume falls back to the offline resume when the process behind control.json is gone", async () => {
    origin.resetStats();
    const get = await startPaced("killed.bin", ["--listen", "0"]);
    await waitFor("some bytes served", () => origin.stats.bytesServed > 2 * 1024 * 1024, 15_000);
    // A download killed before its first checkpoint has nothing to resume (resume says so, STATE_FILE): on a
    // loaded machine the bytes above can be out before that checkpoint.
    await waitFor("a first checkpoint", () => existsSync(join(dir, "killed.bin.dlm", "state.json")), 15_000);
    get.child.kill("SIGKILL");
    await get.done;
    expect(existsSync(controlPath("killed.bin"))).toBe(true);
    const pause = await dlm(["pause", "killed.bin"]);
    expect(pause.exitCode).toBe(EXIT.NETWORK);
    expect(pause.stderr).toContain("does not answer");
    origin.update("/killed.bin", { throttleBytesPerSec: undefined });
    const resume = await dlm(["resume", "killed.bin"]);
    expect(resume.exitCode).toBe(EXIT.OK);
    expect(resume.stderr).toContain("resuming");
    expect(resume.stdout).toContain(`sha256 ${sha256Of(SIZE, 3)}`);
  }, 60_000);

  test("bad --listen values are usage errors before any I/O; a taken port too", async () => {
    const url = origin.url("/never.bin");
    const remote = await dlm(["get", url, "--listen", "0.0.0.0:0"]);
    expect(remote.exitCode).toBe(EXIT.USAGE);
    expect(remote.stderr).toContain("--listen-any");
    const alone = await dlm(["get", url, "--listen-any"]);
    expect([alone.exitCode, alone.stderr]).toEqual([
      EXIT.USAGE,
      "dlm: --listen-any: needs --listen [HOST:]PORT\n",
    ]);
    const port = await dlm(["get", url, "--listen", "65535"]);
    expect(port.exitCode).toBe(EXIT.USAGE);
    expect(port.stderr).toContain('--listen: expected [HOST:]PORT with PORT 0..65534, got "65535"');
    const host = await dlm(["get", url, "--listen", "example.com:80"]);
    expect(host.exitCode).toBe(EXIT.USAGE);
    const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
    try {
      const busy = await dlm(["get", url, "--listen", `127.0.0.1:${taken.port}`]);
      expect(busy.exitCode).toBe(EXIT.USAGE);
      expect(busy.stderr).toContain(`--listen: 127.0.0.1:${taken.port} is already in use`);
    } finally {
      await taken.stop(true);
    }
    expect(origin.stats.requests.filter((r) => r.path === "/never.bin")).toEqual([]);
  });

  test("client commands without a control plane say how to get one", async () => {
    const status = await dlm(["status", "nothing.bin"]);
    expect(status.exitCode).toBe(EXIT.USAGE);
    expect(status.stderr).toContain("no running download with a control plane");
    expect(status.stderr).toContain("dlm get --listen 0");
    const watch = await dlm(["watch", "nothing.bin", "--json"]);
    expect(watch.exitCode).toBe(EXIT.USAGE);
    expect(jsonLines(watch.stdout)[0]).toMatchObject({ type: "error", code: "usage" });
  });
});
