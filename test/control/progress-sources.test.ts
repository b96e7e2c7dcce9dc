import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { type Progress, ProgressService, SourceState } from "../../src/gen/dlm/v1/progress_pb.ts";
import { startControlPlane } from "../../src/interfaces/control-plane.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { quietContext, requestFor, waitFor } from "./fixture.ts";

// Progress names its sources (issue 21 item 5): one file from two mirrors on loopback, watched over the
// ProgressService stream by a real Connect client, shows both sources with their bytes and the connections
// (segments) naming the source they fetch from.
let main: Origin;
let mirror: Origin;
let dir: string;
const SIZE = 8 * 1024 * 1024;

beforeAll(async () => {
  [main, mirror] = await Promise.all([startOrigin(), startOrigin()]);
  dir = await mkdtemp(join(tmpdir(), "dlm-progress-sources-"));
});

afterAll(async () => {
  await Promise.all([main.close(), mirror.close()]);
  await rm(dir, { recursive: true, force: true });
});

test("two mirrors: the stream shows both sources with bytes, and segments name them", async () => {
  // Paced per connection, so that both sources carry connections for a few ticks.
  const file = { size: SIZE, seed: 21, throttleBytesPerSec: 1024 * 1024 };
  const url = main.serve("/two.bin", file);
  // A query with a token: watchers see the mirror's origin and path only.
  const other = `${mirror.serve("/two.bin", file)}?token=secret`;
  const output = join(dir, "two.bin");
  const controller = new Controller(
    quietContext(dir),
    { ...requestFor(url, output, 4), mirrors: [other] },
    getLogger(["dlm", "test"]),
  );
  const plane = await startControlPlane(controller, {
    listen: { host: "127.0.0.1", port: 0 },
    log: getLogger(["dlm", "test"]),
  });
  try {
    const client = createClient(
      ProgressService,
      createConnectTransport({ baseUrl: plane.rpc, httpVersion: "2" }),
    );
    const messages: Progress[] = [];
    const watching = (async () => {
      for await (const m of client.watch({}, { headers: { authorization: `Bearer ${plane.token}` } })) {
        messages.push(m);
      }
    })();
    await waitFor("the watcher", () => controller.hub.subscriberCount() === 1);
    const done = await controller.run();
    expect(done.bytes).toBe(SIZE);
    await watching;

    const last = messages.at(-1);
    expect(last?.sources.map((s) => [s.id, s.url, s.state])).toEqual([
      [0, url, SourceState.ACTIVE],
      [1, other.replace("?token=secret", ""), SourceState.ACTIVE],
    ]);
    // Every byte came from one of them, and each sent some.
    const bytes = last?.sources.map((s) => Number(s.bytes)) ?? [];
    expect(bytes.every((b) => b > 0)).toBe(true);
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(SIZE);
    // While running, the connections (fetching segments) named both sources, and each source's
    // connection count and rate were those of the segments naming it.
    const named = new Set<number>();
    for (const m of messages) {
      const fetching = m.segments.filter((s) => s.worker !== undefined);
      for (const s of fetching) if (s.source !== undefined) named.add(s.source);
      for (const source of m.sources) {
        const mine = fetching.filter((s) => s.source === source.id);
        expect(source.connections).toBe(mine.length);
      }
    }
    expect([...named].sort()).toEqual([0, 1]);
  } finally {
    await plane.stop();
  }
}, 60_000);
