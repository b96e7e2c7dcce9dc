import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EXIT } from "../src/exit-codes.ts";
import { LOG_CATEGORIES, parseLogLevels } from "../src/log.ts";
import { curl } from "./control/fixture.ts";
import { BUN_BIN, jsonLines, MAIN_TS, makeTempDir, removeDir, runDlm } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";
import { startRawOrigin } from "./helpers/raw-origin.ts";

// Every category DLM_LOG accepts turns on records of its own: `DLM_LOG=worker=debug` is not a no-op.
let origin: Origin;
let dir: string;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await makeTempDir("dlm-log-categories-");
});

afterAll(async () => {
  await origin.close();
  await removeDir(dir);
});

/** The logger names (`dlm.worker`...) of the JSON log records in `stderr`. */
function loggersIn(stderr: string): Set<string> {
  const names = new Set<string>();
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    const record = JSON.parse(line) as { logger?: unknown };
    if (typeof record.logger === "string") names.add(record.logger);
  }
  return names;
}

describe("DLM_LOG categories", () => {
  test("the accepted categories are exactly the ones below", () => {
    expect([...LOG_CATEGORIES].sort()).toEqual(["cli", "control", "engine", "http", "rpc", "worker"]);
    expect(() => parseLogLevels("scheduler=debug")).toThrow(/unknown category "scheduler"/);
  });

  test("worker= and control= log on their own, under a root that silences the engine", async () => {
    const url = origin.serve("/w.bin", {
      size: 2 * 1024 * 1024,
      seed: 4,
      dropAfterBytes: 100_000,
      dropTimes: 1,
    });
    const run = await runDlm(["get", url, "-o", "w.bin", "-c", "2"], {
      cwd: dir,
      env: { DLM_LOG: "error,worker=info,control=debug", DLM_LOG_FORMAT: "json" },
    });
    expect(run.exitCode).toBe(EXIT.OK);
    const loggers = loggersIn(run.stderr);
    expect([...loggers].sort()).toEqual(["dlm.control", "dlm.worker"]);
    expect(run.stderr).toContain('"message":"retrying');
    expect(run.stderr).toContain('"from":"running","to":"verifying"');
  });

  test("http= and rpc= in the listening process, cli= in a client command; the control record tells the truth", async () => {
    // An origin slow to answer the first request: it answers 500 ms after it, unless dlm printed its control
    // record before that; then it holds the answer until `dlm status FILE` has run (which must work from the
    // record on). It sends half the body and holds the rest, so the download is running while clients ask.
    let release: () => void = () => undefined;
    let recordSeen = false;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const size = 4 * 1024 * 1024;
    const slow = await startRawOrigin((_request, socket) => {
      setTimeout(() => {
        if (!recordSeen) release();
      }, 500);
      void released.then(() => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
        socket.write(new Uint8Array(size / 2));
      });
    });
    try {
      const child = Bun.spawn(
        [BUN_BIN, MAIN_TS, "get", slow.url("/l.bin"), "-o", "l.bin", "--listen", "0", "--json"],
        {
          cwd: dir,
          env: { ...process.env, DLM_LOG: "error,http=info,rpc=info", DLM_LOG_FORMAT: "json" },
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          timeout: 40_000,
        },
      );
      const stderr = new Response(child.stderr).text();
      // Read stdout up to the control record: an event, not a sleep.
      let stdout = "";
      const decoder = new TextDecoder();
      const reader = child.stdout.getReader();
      while (!/"type":"control".*\n/.test(stdout)) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += decoder.decode(value, { stream: true });
      }
      reader.releaseLock();
      recordSeen = true;
      const control = jsonLines(stdout.slice(0, stdout.lastIndexOf("\n") + 1)).find(
        (r) => r["type"] === "control",
      );
      expect(control).toBeDefined();
      // An unauthenticated call on the RPC listener is refused and logged there.
      const refused = await curl([
        "--http2-prior-knowledge",
        "-X",
        "POST",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `${control?.["rpc"]}/dlm.v1.ProgressService/Watch`,
      ]);
      expect(refused.stdout).toBe("401");
      const status = await runDlm(["status", "l.bin"], {
        cwd: dir,
        env: { DLM_LOG: "error,cli=debug", DLM_LOG_FORMAT: "json" },
      });
      release();
      expect({ exitCode: status.exitCode, stderr: status.stderr.slice(0, 400) }).toMatchObject({
        exitCode: EXIT.OK,
      });
      expect([...loggersIn(status.stderr)]).toEqual(["dlm.cli"]);
      expect(status.stderr).toContain(`"url":"${control?.["http"]}/status","status":200`);
      const cancel = await runDlm(["cancel", "l.bin"], { cwd: dir });
      expect(cancel.exitCode).toBe(EXIT.OK);
      expect(await child.exited).toBe(EXIT.CANCELLED);
      const logged = await stderr;
      expect([...loggersIn(logged)].sort()).toEqual(["dlm.http", "dlm.rpc"]);
      expect(logged).toContain("control plane listening");
    } finally {
      release();
      await slow.close();
    }
  }, 40_000);
});
