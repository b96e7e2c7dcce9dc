import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { UsageError } from "../../src/errors.ts";
import { startControlPlane } from "../../src/interfaces/control-plane.ts";
import { curl, envelope, type Plane, parseEnvelopes, planeFor } from "./fixture.ts";

// REST control API on the Elysia listener, exercised with curl. The controller is never run here: these tests
// are about the HTTP surface (auth, Host, Origin, size, errors, transitions), not the download.
let dir: string;
let p: Plane;
let envelopeFile: string;
const UNUSED_URL = "http://127.0.0.1:9/never-fetched.bin";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dlm-http-api-"));
  p = await planeFor(UNUSED_URL, dir, "f.bin", { idleTimeoutSeconds: 1 });
  envelopeFile = join(dir, "watch-request.bin");
  await writeFile(envelopeFile, envelope({}));
});

afterAll(async () => {
  await p.plane.stop();
  await rm(dir, { recursive: true, force: true });
});

const auth = () => ["-H", `Authorization: ${p.auth}`];

describe("GET /status", () => {
  test("answers the snapshot as JSON", async () => {
    const r = await curl([...auth(), "-w", "\\n%{http_code} %{content_type}", `${p.plane.http}/status`]);
    const [body, meta] = r.stdout.split("\n");
    expect(meta).toStartWith("200 application/json");
    const status = JSON.parse(body ?? "");
    expect(status).toMatchObject({
      download: p.output,
      url: UNUSED_URL,
      state: "probing",
      bytesDownloaded: 0,
      activeConnections: 0,
      segments: [],
    });
    expect(status).not.toHaveProperty("totalBytes");
  });

  test("401 with a JSON error and WWW-Authenticate without the token, or with a wrong one", async () => {
    for (const header of [
      [],
      ["-H", "Authorization: Bearer wrong"],
      ["-H", `Authorization: Basic ${p.plane.token}`],
    ]) {
      const r = await curl([...header, "-i", `${p.plane.http}/status`]);
      expect(r.stdout).toStartWith("HTTP/1.1 401");
      expect(r.stdout.toLowerCase()).toContain('www-authenticate: bearer realm="dlm"');
      expect(JSON.parse(r.stdout.slice(r.stdout.indexOf("{")))).toMatchObject({ code: "unauthenticated" });
    }
  });

  test("403 when the Host header does not name the listener (DNS rebinding)", async () => {
    const port = new URL(p.plane.http).port;
    const r = await curl([
      ...auth(),
      "-H",
      `Host: rebind.example:${port}`,
      "-w",
      "\\n%{http_code}",
      `${p.plane.http}/status`,
    ]);
    const [body, code] = r.stdout.split("\n");
    expect(code).toBe("403");
    expect(JSON.parse(body ?? "")).toMatchObject({ code: "permission_denied" });
    const local = await curl([
      ...auth(),
      "-H",
      `Host: localhost:${port}`,
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${p.plane.http}/status`,
    ]);
    expect(local.stdout).toBe("200");
  });

  test("a browser request from a foreign Origin is refused; the listener's own origin is served", async () => {
    const foreign = await curl([
      ...auth(),
      "-H",
      "Origin: http://evil.example",
      "-w",
      "\\n%{http_code}",
      `${p.plane.http}/status`,
    ]);
    expect(foreign.stdout.split("\n")[1]).toBe("403");
    const same = await curl([
      ...auth(),
      "-H",
      `Origin: ${p.plane.http}`,
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      `${p.plane.http}/status`,
    ]);
    expect(same.stdout).toBe("200");
  });

  test("unknown routes and methods are 404 with a JSON error", async () => {
    for (const args of [
      [`${p.plane.http}/nope`],
      ["-X", "DELETE", `${p.plane.http}/status`],
      [`${p.plane.http}/pause`],
    ]) {
      const r = await curl([...auth(), "-w", "\\n%{http_code}", ...args]);
      const [body, code] = r.stdout.split("\n");
      expect(code).toBe("404");
      expect(JSON.parse(body ?? "")).toMatchObject({ code: "not_found" });
    }
  });
});

describe("body size cap", () => {
  test("413 with a JSON error for a body over the cap, on both listeners", async () => {
    const big = join(dir, "big.bin");
    await writeFile(big, new Uint8Array(64 * 1024));
    const http = await curl([
      ...auth(),
      "-X",
      "POST",
      "--data-binary",
      `@${big}`,
      "-w",
      "\\n%{http_code}",
      `${p.plane.http}/pause`,
    ]);
    const [body, code] = http.stdout.split("\n");
    expect(code).toBe("413");
    expect(JSON.parse(body ?? "")).toMatchObject({ code: "resource_exhausted" });
    const rpc = await curl([
      ...auth(),
      "--http2-prior-knowledge",
      "-H",
      "content-type: application/connect+json",
      "--data-binary",
      `@${big}`,
      "-w",
      "\\n%{http_code}",
      `${p.plane.rpc}/dlm.v1.ProgressService/Watch`,
    ]);
    expect(rpc.stdout.split("\n").at(-1)).toBe("413");
    expect(p.controller.state).toBe("probing");
  });
});

describe("progress stream over HTTP/1.1 and the idle timeout", () => {
  test("a stream quiet for 5x the idle timeout (1 s here) stays open and ends OK", async () => {
    const stream = curl([
      ...auth(),
      "-N",
      "-H",
      "content-type: application/connect+json",
      "--data-binary",
      `@${envelopeFile}`,
      `${p.plane.http}/dlm.v1.ProgressService/Watch`,
    ]);
    await waitForSubscribers(1);
    // Nothing is published for 5 idle timeouts (Bun checks idle sockets about every 4 s, so a shorter quiet
    // spell could pass unnoticed); then the download "finishes".
    await Bun.sleep(5000);
    p.controller.hub.publish({ ...p.controller.snapshot(), state: "finished" });
    const r = await stream;
    expect(r.code).toBe(0);
    const messages = parseEnvelopes(r.bytes);
    expect(messages.map((m) => [m.end, m.json["state"]])).toEqual([
      [false, "STATE_PROBING"],
      [false, "STATE_FINISHED"],
      [true, undefined],
    ]);
    expect(messages.at(-1)?.json).toEqual({});
  });
});

describe("POST /pause, /resume, /cancel", () => {
  test("follow the state machine; an impossible command is 409 with {code, message}", async () => {
    const q = await planeFor(UNUSED_URL, dir, "g.bin");
    try {
      const post = async (path: string) => {
        const r = await curl([
          "-H",
          `Authorization: ${q.auth}`,
          "-X",
          "POST",
          "-w",
          "\\n%{http_code}",
          `${q.plane.http}${path}`,
        ]);
        const [body, code] = r.stdout.split("\n");
        return [Number(code), JSON.parse(body ?? "")] as const;
      };
      expect(await post("/pause")).toEqual([200, { state: "paused", changed: true }]);
      expect(await post("/pause")).toEqual([200, { state: "paused", changed: false }]);
      expect(q.controller.state).toBe("paused");
      expect(await post("/resume")).toEqual([200, { state: "running", changed: true }]);
      expect(await post("/resume")).toEqual([200, { state: "running", changed: false }]);
      expect(await post("/cancel")).toEqual([200, { state: "cancelled", changed: true }]);
      const [code, body] = await post("/pause");
      expect(code).toBe(409);
      expect(body).toEqual({
        code: "failed_precondition",
        message: "cannot pause: the download has already been cancelled",
      });
      expect((await post("/resume"))[0]).toBe(409);
    } finally {
      await q.plane.stop();
    }
  });
});

describe("listening", () => {
  test("a port in use is a UsageError naming --listen, not a silently shared port (reusePort off)", async () => {
    const port = Number(new URL(p.plane.http).port);
    const second = startControlPlane(p.controller, {
      listen: { host: "127.0.0.1", port },
      log: getLogger(["dlm", "test"]),
    });
    await expect(second).rejects.toBeInstanceOf(UsageError);
    await expect(second).rejects.toThrow(`--listen: 127.0.0.1:${port} is already in use`);
  });
});

async function waitForSubscribers(count: number): Promise<void> {
  const deadline = performance.now() + 5000;
  while (p.controller.hub.subscriberCount() < count) {
    if (performance.now() > deadline) throw new Error(`no ${count} subscribers after 5 s`);
    await Bun.sleep(10);
  }
}
