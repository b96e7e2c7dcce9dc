import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDashboardFile } from "../../src/interfaces/http/dashboard/serve-dashboard.ts";
import { dashboardUrl } from "../../src/interfaces/shared/listener.ts";
import { type RequestFacts, RequestGuard } from "../../src/interfaces/shared/request-guard.ts";
import { curl, type Plane, planeFor } from "../control/fixture.ts";

// The dashboard's static files on the HTTP listener: served without the token (a browser navigation cannot
// send one) but behind the same Host and Origin checks, with locked-down headers; every other route still
// needs the token.
let dir: string;
let p: Plane;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dlm-dashboard-serve-"));
  p = await planeFor("http://127.0.0.1:9/never-fetched.bin", dir, "f.bin");
});

afterAll(async () => {
  await p.plane.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Status line and lower-cased headers of `curl -i`, and the body. */
async function get(path: string, extra: readonly string[] = []) {
  const r = await curl(["-i", ...extra, `${p.plane.http}${path}`]);
  const split = r.stdout.indexOf("\r\n\r\n");
  const head = r.stdout.slice(0, split).split("\r\n");
  const headers = new Map(
    head.slice(1).map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  return { status: Number(head[0]?.split(" ")[1]), headers, body: r.stdout.slice(split + 4) };
}

describe("dashboard files without a token", () => {
  test.each([
    ["/", "text/html", '<script type="module" src="/dashboard.js">'],
    ["/dashboard.js", "text/javascript", "Bearer "],
    ["/dashboard.css", "text/css", "prefers-color-scheme: dark"],
    ["/favicon.svg", "image/svg+xml", "<svg"],
  ] as const)("GET %s -> 200 %s with safe headers", async (path, type, content) => {
    const r = await get(path);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toStartWith(type);
    expect(r.headers.get("content-security-policy")).toStartWith("default-src 'self';");
    expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("referrer-policy")).toBe("no-referrer");
    expect(r.headers.get("cache-control")).toBe("no-store");
    // A boolean: a failure should not print the whole bundle.
    expect([path, r.body.includes(content)]).toEqual([path, true]);
  });

  test("the script is one self-contained bundle under 150 KB: no CDN, nothing fetched at run time", async () => {
    const r = await get("/dashboard.js");
    expect(Buffer.byteLength(r.body)).toBeLessThan(150 * 1024);
    expect(/\bimport\s*\(?\s*["']https?:/.test(r.body)).toBe(false);
    expect(/\bfrom\s*["']/.test(r.body)).toBe(false);
  });

  test("everything else still needs the token", async () => {
    for (const [path, args] of [
      ["/status", []],
      ["/index.html", []],
      ["/", ["-X", "POST"]],
      ["/pause", ["-X", "POST"]],
    ] as const) {
      const r = await get(path, args);
      expect([path, r.status]).toEqual([path, 401]);
    }
    const ok = await get("/status", ["-H", `Authorization: ${p.auth}`]);
    expect(ok.status).toBe(200);
  });

  test("a wrong Host (DNS rebinding) or a foreign Origin gets 403, page or not", async () => {
    for (const header of [
      `Host: evil.example:${p.plane.http.split(":").at(-1)}`,
      "Host: 127.0.0.1.nip.io",
      "Origin: http://evil.example",
    ]) {
      const page = await get("/", ["-H", header]);
      expect([header, page.status]).toEqual([header, 403]);
      expect(page.body).not.toContain("<html");
      const script = await get("/dashboard.js", ["-H", header]);
      expect([header, script.status]).toEqual([header, 403]);
    }
  });
});

describe("RequestGuard without the token requirement", () => {
  const guard = new RequestGuard("t0ken", { host: "127.0.0.1", port: 4000 }, 1024);
  const facts: RequestFacts = {
    host: "127.0.0.1:4000",
    origin: undefined,
    authorization: undefined,
    contentLength: undefined,
  };

  test("skips only the token: Host, Origin and size are still checked", () => {
    expect(guard.check(facts, false)).toBeUndefined();
    expect(guard.check(facts)?.status).toBe(401);
    expect(guard.check({ ...facts, host: "evil.example:4000" }, false)?.status).toBe(403);
    expect(guard.check({ ...facts, origin: "http://evil.example" }, false)?.status).toBe(403);
    expect(guard.check({ ...facts, contentLength: "2048" }, false)?.status).toBe(413);
  });

  test("only GET of the dashboard's own paths is token-free", () => {
    expect(isDashboardFile("GET", "/")).toBe(true);
    expect(isDashboardFile("GET", "/dashboard.js")).toBe(true);
    expect(isDashboardFile("POST", "/")).toBe(false);
    expect(isDashboardFile("GET", "/status")).toBe(false);
    expect(isDashboardFile("GET", "/toString")).toBe(false);
    expect(isDashboardFile("GET", "/__proto__")).toBe(false);
  });

  test("the dashboard URL carries the token in the fragment only", () => {
    const url = new URL(dashboardUrl("http://127.0.0.1:4000", "a-b_c"));
    expect([url.pathname, url.search, url.hash]).toEqual(["/", "", "#token=a-b_c"]);
  });
});
