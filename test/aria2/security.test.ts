// Hostile and careless callers of dlm serve --aria2-rpc: no or wrong secret, a rebound Host, a foreign page's
// Origin, paths leaving --dir, URLs that are not http(s), oversized bodies, shutdown without the flag; and the
// flags' own checks.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { EXIT } from "../../src/exit-codes.ts";
import { runDlm } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe } from "../serve/serve-fixture.ts";
import { type Aria2Place, aria2Place, endAria2Serve, startAria2Serve } from "./aria2-serve.ts";
import { HAVE_ARIA2C, startAria2c } from "./aria2c.ts";
import { call, callRaw } from "./rpc-client.ts";

const SECRET = "security-secret";
const ARIANG = "http://ariang.example:6880";
const EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";

let origin: Origin;
let place: Aria2Place | undefined;
let tmp: string;
let dir: string;
let serve: ServeProcess;
let url: string;

function post(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

function request(method: string, params: readonly unknown[]): string {
  return JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
}

beforeAll(async () => {
  origin = await startOrigin();
  origin.serve("/f.bin", { size: 1000 });
  place = await aria2Place("dlm-aria2-sec-");
  ({ tmp, dir } = place);
  serve = await startAria2Serve(place, SECRET, [
    "--rpc-allow-origin",
    ARIANG,
    "--rpc-allow-origin",
    EXTENSION,
  ]);
  url = serve.aria2 ?? "";
}, 30_000);

afterAll(() => endAria2Serve(serve, origin, place));

describe("the secret", () => {
  test("a call without it, or with a wrong one, is Unauthorized (aria2's code 1, HTTP 400)", async () => {
    const none = await post(request("aria2.getGlobalStat", []));
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: unknown }).error).toEqual({ code: 1, message: "Unauthorized" });
    const wrong = await call(url, "wrong", "aria2.addUri", [[origin.url("/f.bin")]]);
    expect(wrong.error).toEqual({ code: 1, message: "Unauthorized" });
    const prefix = await call(url, SECRET.slice(0, -1), "aria2.getGlobalStat");
    expect(prefix.error?.message).toBe("Unauthorized");
    expect((await call(url, SECRET, "aria2.tellWaiting", [0, 10])).result).toEqual([]);
  });

  test("every call of a multicall and a GET needs it too", async () => {
    const multi = await callRaw(url, "system.multicall", [
      [{ methodName: "aria2.addUri", params: [[origin.url("/f.bin")]] }],
    ]);
    expect(multi.result).toEqual([{ code: 1, message: "Unauthorized" }]);
    const params = Buffer.from(JSON.stringify(["token:nope"])).toString("base64");
    const get = await fetch(`${url}?method=aria2.getGlobalStat&id=7&params=${encodeURIComponent(params)}`);
    expect(((await get.json()) as { error: unknown }).error).toEqual({ code: 1, message: "Unauthorized" });
    const good = Buffer.from(JSON.stringify([`token:${SECRET}`])).toString("base64");
    const ok = await fetch(`${url}?method=aria2.getGlobalStat&id=7&params=${encodeURIComponent(good)}`);
    expect(((await ok.json()) as { id: string; result: unknown }).id).toBe("7");
  });
});

describe("Host and Origin", () => {
  test("a Host that does not name the listener (DNS rebinding) is refused with 403", async () => {
    const response = await post(request("aria2.getVersion", [`token:${SECRET}`]), {
      host: `evil.example:${new URL(url).port}`,
    });
    expect(response.status).toBe(403);
  });

  test("a foreign page's Origin is refused, over HTTP and WebSocket; an allowed one gets CORS headers", async () => {
    const foreign = await post(request("aria2.getVersion", [`token:${SECRET}`]), {
      origin: "http://evil.example",
    });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    const upgrade = await fetch(url, {
      headers: {
        origin: "http://evil.example",
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      },
    });
    expect(upgrade.status).toBe(403);
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: ARIANG, "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ARIANG);
    for (const origin of [ARIANG, EXTENSION]) {
      const allowed = await post(request("aria2.getVersion", [`token:${SECRET}`]), { origin });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get("access-control-allow-origin")).toBe(origin);
    }
    const otherExtension = await post(request("aria2.getVersion", [`token:${SECRET}`]), {
      origin: "chrome-extension://zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    });
    expect(otherExtension.status).toBe(403);
  });
});

describe("what a caller may ask", () => {
  test("dir and out cannot leave --dir, and only http(s) URLs are taken; nothing is added", async () => {
    const cases: [unknown[], string][] = [
      [[[origin.url("/f.bin")], { dir: tmp }], "outside the download directory"],
      [[[origin.url("/f.bin")], { dir: "../" }], "outside the download directory"],
      [[[origin.url("/f.bin")], { dir: join(dir, "..", "dl-evil") }], "outside the download directory"],
      [[[origin.url("/f.bin")], { out: "../escape.bin" }], "inside the download directory"],
      [[[origin.url("/f.bin")], { out: "/etc/passwd" }], "inside the download directory"],
      [[["file:///etc/passwd"]], "http:// and https:// only"],
      [[["data:text/plain,hi"]], "http:// and https:// only"],
      [[[origin.url("/f.bin"), "file:///etc/passwd"]], "http:// and https:// only"],
    ];
    for (const [params, message] of cases) {
      const answer = await call(url, SECRET, "aria2.addUri", params);
      expect({ params, error: answer.error?.message ?? "" }).toEqual({
        params,
        error: expect.stringContaining(message),
      });
    }
    expect((await call(url, SECRET, "aria2.tellWaiting", [0, 10])).result).toEqual([]);
    expect(await readdir(tmp)).toEqual(expect.arrayContaining(["dl", "home"]));
    expect((await readdir(tmp)).length).toBe(2);
  });

  test("a body over the cap is refused with 413", async () => {
    const big = request("aria2.addUri", [
      `token:${SECRET}`,
      [origin.url("/f.bin")],
      { header: ["X: ".padEnd(70_000, "a")] },
    ]);
    expect((await post(big, { "content-length": String(big.length) })).status).toBe(413);
  });

  test("shutdown and forceShutdown are refused without --rpc-allow-shutdown, and dlm keeps serving", async () => {
    for (const method of ["aria2.shutdown", "aria2.forceShutdown"]) {
      const answer = await call(url, SECRET, method);
      expect(answer.error?.message).toContain("--rpc-allow-shutdown");
    }
    expect((await call(url, SECRET, "aria2.getVersion")).error).toBeUndefined();
    expect(serve.child.exitCode).toBeNull();
  });
});

describe("the flags", () => {
  test("a bad --aria2-rpc, a public address without --listen-any and an origin of * are usage errors", async () => {
    for (const [args, flag] of [
      [["--aria2-rpc", "nonsense"], "--aria2-rpc"],
      [["--aria2-rpc", "0.0.0.0:0"], "--aria2-rpc"],
      [["--aria2-rpc", "--rpc-allow-origin", "*"], "--rpc-allow-origin"],
      [["--aria2-rpc", "--rpc-secret", ""], "--rpc-secret"],
      [["--rpc-secret", "forgot-the-listener"], "--rpc-secret: needs --aria2-rpc"],
    ] as const) {
      const run = await runDlm(["serve", "--dir", dir, ...args], {
        cwd: dir,
        env: { DLM_HOME: join(tmp, "home2") },
      });
      expect({ args, code: run.exitCode }).toEqual({ args, code: EXIT.USAGE });
      expect(run.stderr).toContain(flag);
    }
  });

  test("without --rpc-secret one is generated and printed; with --rpc-allow-shutdown forceShutdown stops dlm as aria2c", async () => {
    const other = await startServe(join(tmp, "home3"), dir, [
      "--dir",
      dir,
      "--aria2-rpc",
      "127.0.0.1:0",
      "--rpc-allow-shutdown",
    ]);
    const deadline = Date.now() + 5_000;
    while (!other.stderr().includes("aria2 JSON-RPC") && Date.now() < deadline) await Bun.sleep(20); // stderr is a pipe
    const secret = /aria2 JSON-RPC \S+, secret (\S+)/.exec(other.stderr())?.[1] ?? "";
    expect(secret.length).toBeGreaterThanOrEqual(20);
    const answer = await call(other.aria2 ?? "", secret, "aria2.forceShutdown");
    expect(answer).toEqual({ status: 200, id: "t", jsonrpc: "2.0", result: "OK" } as never);
    expect(await other.child.exited).toBe(EXIT.OK);
    if (HAVE_ARIA2C) {
      const real = await startAria2c(join(tmp, "dl"), "s3cret-aria2c");
      expect(await call(real.url, "s3cret-aria2c", "aria2.forceShutdown")).toEqual(answer as never);
      expect(await real.child.exited).toBe(0);
    }
  }, 30_000);
});
