import { createServer } from "node:net";
import { join } from "node:path";

/** A real `aria2c --enable-rpc` (Debian's) for conformance tests. */
export interface Aria2c {
  readonly url: string;
  readonly secret: string;
  readonly dir: string;
  readonly child: ReturnType<typeof Bun.spawn>;
  /** Stops it by its PID (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** A port free right now (bound to port 0 and released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when aria2c is installed (the tests that need it are skipped otherwise, saying so). */
export const HAVE_ARIA2C = Bun.which("aria2c") !== null;

/**
 * Starts aria2c with no configuration file (`--no-conf`), RPC on a free loopback port with `secret`,
 * downloads into `dir`, and waits (at most 10 s) until it answers getVersion.
 */
export async function startAria2c(dir: string, secret: string): Promise<Aria2c> {
  const port = await freePort();
  const child = Bun.spawn(
    [
      "aria2c",
      "--no-conf",
      "--enable-rpc",
      `--rpc-listen-port=${port}`,
      `--rpc-secret=${secret}`,
      `--dir=${dir}`,
      `--save-session=${join(dir, "session.txt")}`,
      "--quiet",
    ],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
  );
  const url = `http://127.0.0.1:${port}/jsonrpc`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(url, {
      method: "POST",
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "aria2.getVersion",
        params: [`token:${secret}`],
      }),
    }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`aria2c did not answer on port ${port}`);
    }
    await Bun.sleep(50); // polling a port that is not open yet: there is no event to wait on
  }
  return {
    url,
    secret,
    dir,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      process.kill(child.pid, "SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}
