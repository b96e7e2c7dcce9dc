import { afterAll, beforeAll, expect, test } from "bun:test";
import { type ClientHttp2Session, connect } from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { DownloadService } from "../../src/gen/dlm/v1/download_pb.ts";
import { startRpcListener } from "../../src/interfaces/rpc/rpc-listener.ts";
import type { RunningListener } from "../../src/interfaces/shared/listener.ts";
import { logger } from "../../src/log.ts";
import { envelope } from "./fixture.ts";

// The h2c listener bounds its connections: one without a request carrying the token is closed after a
// while, one with no open stream too, and each may open only so many streams at once.
const TOKEN = "t0ken-for-connections";
const UNAUTHENTICATED_MS = 300;
const IDLE_MS = 600;
let listener: RunningListener;

/** WatchAll streams that stay open until their client goes away. */
function routes(router: ConnectRouter): void {
  router.service(DownloadService, {
    async *watchAll(_request, context) {
      yield { seq: 1n, event: { case: "removed", value: 1n } };
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
    },
  });
}

beforeAll(async () => {
  listener = await startRpcListener({
    token: TOKEN,
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: 4096,
    routes,
    rpcOptions: {},
    unauthenticatedTimeoutMs: UNAUTHENTICATED_MS,
    idleTimeoutMs: IDLE_MS,
    maxConcurrentStreams: 4,
    log: logger("rpc"),
  });
});

afterAll(async () => {
  await listener.stop();
});

/** Opens a raw h2c session and resolves once the server's SETTINGS arrived. */
async function open(): Promise<ClientHttp2Session> {
  const session = connect(listener.url);
  session.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
  });
  return session;
}

/** Milliseconds until `session` closes, or Infinity if it is still open after `boundMs`. */
function closedWithin(session: ClientHttp2Session, boundMs: number): Promise<number> {
  const began = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(Number.POSITIVE_INFINITY), boundMs);
    if (session.closed || session.destroyed) resolve(0);
    session.once("close", () => {
      clearTimeout(timer);
      resolve(performance.now() - began);
    });
  });
}

/** Starts a WatchAll call on `session` (with `token`, or none) and resolves with its response headers. */
function watch(session: ClientHttp2Session, token: string | undefined) {
  const stream = session.request({
    ":method": "POST",
    ":path": "/dlm.v1.DownloadService/WatchAll",
    "content-type": "application/connect+json",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  });
  stream.on("error", () => undefined);
  stream.end(envelope({}));
  return {
    stream,
    headers: new Promise<Record<string, unknown>>((resolve) => stream.once("response", resolve)),
  };
}

test("ten sessions that never authenticate are all closed, silent or sending refused requests", async () => {
  const sessions = await Promise.all(Array.from({ length: 10 }, () => open()));
  // Half of them ask without the token (refused with 401): that does not keep a connection.
  for (const session of sessions.slice(5))
    expect((await watch(session, undefined).headers)[":status"]).toBe(401);
  const bound = UNAUTHENTICATED_MS + 1000 + 2000;
  const times = await Promise.all(sessions.map((s) => closedWithin(s, bound)));
  expect(times.filter((ms) => ms === Number.POSITIVE_INFINITY)).toEqual([]);
});

test("a session with an open stream stays; once its last stream ends it is closed as idle", async () => {
  const session = await open();
  const call = watch(session, TOKEN);
  expect((await call.headers)[":status"]).toBe(200);
  // Past both timeouts with the stream open: the connection is in use and stays.
  expect(await closedWithin(session, UNAUTHENTICATED_MS + IDLE_MS + 300)).toBe(Number.POSITIVE_INFINITY);
  call.stream.close();
  expect(await closedWithin(session, IDLE_MS + 3000)).toBeLessThan(IDLE_MS + 3000);
});

test("one session may open only so many streams at once, and says so in SETTINGS", async () => {
  const session = await open();
  expect(session.remoteSettings.maxConcurrentStreams).toBe(4);
  const calls = Array.from({ length: 4 }, () => watch(session, TOKEN));
  for (const call of calls) expect((await call.headers)[":status"]).toBe(200);
  const fifth = watch(session, TOKEN);
  let answered = false;
  void fifth.headers.then(() => {
    answered = true;
  });
  // While four are open the fifth waits (bounded look: it must not be answered meanwhile)...
  await Bun.sleep(500);
  expect(answered).toBe(false);
  // ...and goes through as soon as one of them ends.
  calls[0]?.stream.close();
  expect((await fifth.headers)[":status"]).toBe(200);
  for (const call of [...calls, fifth]) call.stream.close();
  expect(await closedWithin(session, IDLE_MS + 3000)).toBeLessThan(IDLE_MS + 3000);
});
