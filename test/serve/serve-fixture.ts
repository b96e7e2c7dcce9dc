import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DownloadService } from "../../src/gen/dlm/v1/download_pb.ts";
import { BUN_BIN, MAIN_TS } from "../helpers/cli.ts";

/** A `dlm serve` child process and what it wrote to serve.json. */
export interface ServeProcess {
  readonly child: ReturnType<typeof Bun.spawn>;
  readonly http: string;
  readonly rpc: string;
  readonly token: string;
  /** The aria2 JSON-RPC URL when started with --aria2-rpc. */
  readonly aria2: string | undefined;
  /** A connect-node client over HTTP/2 (h2c) with the token. */
  readonly client: Client<typeof DownloadService>;
  /** stderr so far, for failure messages. */
  stderr(): string;
}

/**
 * Spawns `bun src/main.ts serve --json ...args` in `dir` with DLM_HOME=`home`, waits for its JSON line
 * (bounded by 20 s) and reads the token from serve.json.
 */
export async function startServe(
  home: string,
  dir: string,
  args: readonly string[] = [],
): Promise<ServeProcess> {
  const env: Record<string, string | undefined> = { ...process.env, DLM_HOME: home };
  delete env["DLM_LOG"];
  delete env["DLM_LOG_FORMAT"];
  // DLM_SERVE_LOG=debug (say) logs the serve children at that level, for hunting a failure.
  const serveLog = process.env["DLM_SERVE_LOG"];
  if (serveLog !== undefined && serveLog !== "") env["DLM_LOG"] = serveLog;
  const child = Bun.spawn([BUN_BIN, MAIN_TS, "serve", "--json", ...args], {
    cwd: dir,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let err = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr as ReadableStream<Uint8Array>) err += decoder.decode(chunk);
  })();
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      clearTimeout(deadline);
      throw new Error(`dlm serve exited before listening (code ${await child.exited}): ${err}`);
    }
    out += new TextDecoder().decode(value);
  }
  clearTimeout(deadline);
  reader.releaseLock();
  const line = JSON.parse(out.slice(0, out.indexOf("\n"))) as { http: string; rpc: string; aria2?: string };
  const file = JSON.parse(await readFile(join(home, "serve.json"), "utf8")) as { token: string };
  const auth: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${file.token}`);
    return next(request);
  };
  const client = createClient(
    DownloadService,
    createConnectTransport({ baseUrl: line.rpc, httpVersion: "2", interceptors: [auth] }),
  );
  return {
    child,
    http: line.http,
    rpc: line.rpc,
    token: file.token,
    aria2: line.aria2,
    client,
    stderr: () => err,
  };
}

/** SIGTERM, then waits for the exit (SIGKILL after 10 s); returns the exit code. */
export async function stopServe(serve: ServeProcess): Promise<number> {
  serve.child.kill("SIGTERM");
  const timer = setTimeout(() => serve.child.kill("SIGKILL"), 10_000);
  const code = await serve.child.exited;
  clearTimeout(timer);
  return code;
}
