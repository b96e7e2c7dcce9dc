import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { EXIT } from "../../src/exit-codes.ts";
import { BUN_BIN, MAIN_TS, tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "./serve-fixture.ts";

// The manager's `dlm watch` on a terminal (issue 21 item 5): a running download with a mirror is followed by
// a line per source with its rate, connections and state. Real dlm serve, two origins on loopback, a
// pseudo-terminal from util-linux `script`.
const SCRIPT = "/usr/bin/script";
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;]*[A-Za-z]`, "g");
const dirs = tempDirs("dlm-serve-watch-sources-");
const origins: Origin[] = [];
const running: ServeProcess[] = [];

afterAll(async () => {
  for (const serve of running) serve.child.kill("SIGKILL");
  for (const o of origins) await o.close();
  await dirs.removeAll();
});

describe.skipIf(!existsSync(SCRIPT))("dlm watch (dlm serve)", () => {
  test("a running download with a mirror shows a line per source; Ctrl+C exits 0", async () => {
    const [main, mirror] = await Promise.all([startOrigin(), startOrigin()]);
    origins.push(main, mirror);
    // Paced so that the download runs for several redraws (8 MiB at 256 KiB/s per connection, 4 connections).
    const file = { size: 8 * 1024 * 1024, seed: 5, throttleBytesPerSec: 256 * 1024 };
    const url = main.serve("/w.bin", file);
    const other = mirror.serve("/w.bin", file);
    const home = await dirs.fresh();
    const dir = await dirs.fresh();
    const serve = await startServe(home, dir);
    running.push(serve);
    const env: Record<string, string | undefined> = { ...process.env, DLM_HOME: home, TERM: "xterm" };
    delete env["DLM_LOG"];
    const tty = Bun.spawn(
      [SCRIPT, "-qfec", `stty cols 160 rows 30; exec ${BUN_BIN} ${MAIN_TS} watch`, "/dev/null"],
      {
        cwd: dir,
        env,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const { download } = await serve.client.add({ url, mirrors: [other], connections: 4 });
    const id = download?.id ?? 0n;
    const reader = (tty.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    const both = new RegExp(
      `#0 +\\S+ \\S+ +\\d+ conn +\\S+ \\S+ +active +${url}\\r?\\n +#1 +\\S+ \\S+ +\\d+ conn +\\S+ \\S+ +active +${other}`,
    );
    const deadline = setTimeout(() => tty.kill("SIGKILL"), 30_000);
    while (!both.test(out.replace(ANSI, ""))) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const text = out.replace(ANSI, "");
    expect(text).toMatch(both);
    // The source lines follow the download's own row.
    expect(text).toMatch(new RegExp(`${id}\\trunning\\t[^\\n]*\\r?\\n +#0 `));
    tty.stdin.write("\x03");
    await tty.stdin.flush();
    expect(await tty.exited).toBe(EXIT.OK);
    clearTimeout(deadline);
    reader.releaseLock();
    expect(await stopServe(serve)).toBe(EXIT.OK);
  }, 60_000);
});
