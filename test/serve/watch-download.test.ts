import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState } from "../../src/gen/dlm/v1/download_pb.ts";
import { type Progress, State } from "../../src/gen/dlm/v1/progress_pb.ts";
import { tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { type ServeProcess, startServe, stopServe } from "./serve-fixture.ts";

// DownloadService.WatchDownload, the manager dashboard's detail feed, over connect-node HTTP/2 against a real
// `dlm serve`: one download's Progress with its segments while it runs, a segment-less view while it waits,
// the end of the stream when it is removed, NOT_FOUND for an unknown id.
const dirs = tempDirs("dlm-watch-download-");
let origin: Origin;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  serve?.child.kill("SIGKILL");
  await origin.close();
  await dirs.removeAll();
});

describe("WatchDownload", () => {
  test("paused: no segments; running: segments and connections at most 4 a second; removed: the stream ends OK", async () => {
    serve = await startServe(await dirs.fresh(), await dirs.fresh());
    const s = serve;
    const size = 8 * 1024 * 1024;
    const url = origin.serve("/detail.bin", { size, seed: 9, throttleBytesPerSec: 1024 * 1024 });
    const added = await s.client.add({ url, connections: 2, startPaused: true });
    const id = added.download?.id ?? 0n;
    const unknown = await (async () => {
      for await (const _ of s.client.watchDownload({ id: 999n })) return undefined;
    })().catch((e: unknown) => e);
    expect(ConnectError.from(unknown).code).toBe(Code.NotFound);

    const seen: { at: number; progress: Progress }[] = [];
    const abort = new AbortController();
    let resumed = false;
    let removedAt = 0;
    for await (const message of s.client.watchDownload({ id }, { signal: abort.signal })) {
      const progress = message.progress;
      if (progress === undefined) continue;
      seen.push({ at: performance.now(), progress });
      if (!resumed) {
        // The first view, while paused: counts, no segments.
        expect(progress.state).toBe(State.PAUSED);
        expect(progress.segments).toEqual([]);
        expect(progress.url).toBe(url);
        resumed = true;
        await s.client.resume({ selector: { ids: [id] } });
      } else if (removedAt === 0 && progress.segments.length >= 2 && progress.activeConnections === 2) {
        removedAt = performance.now();
        // Remove it: the stream must end by itself (the loop leaves), not by the abort below.
        void s.client.remove({ selector: { ids: [id] }, deleteFiles: true });
      }
      if (seen.length > 400) abort.abort();
    }
    expect(abort.signal.aborted).toBe(false);
    expect(removedAt).toBeGreaterThan(0);
    const running = seen.filter((s) => s.progress.state === State.RUNNING);
    expect(running.length).toBeGreaterThan(0);
    const last = running.at(-1)?.progress;
    expect(last?.totalBytes).toBe(BigInt(size));
    expect(last?.segments.reduce((sum, seg) => sum + Number(seg.done), 0)).toBe(
      Number(last?.bytesDownloaded),
    );
    // Ticks are 250 ms apart: over any second there are at most ~4 running messages (5 with edges).
    const first = running[0]?.at ?? 0;
    expect(running.filter((r) => r.at - first < 1000).length).toBeLessThanOrEqual(5);
    expect((await s.client.list({})).downloads.filter((d) => d.state !== DownloadState.REMOVED)).toEqual([]);
    expect(await stopServe(s)).toBe(EXIT.OK);
    serve = undefined;
  }, 60_000);
});
