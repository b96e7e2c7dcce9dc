import { describe, expect, test } from "bun:test";
import { create, create as createProgress, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Download,
  DownloadSchema,
  DownloadState,
  type WatchAllResponse,
  WatchAllResponseSchema,
} from "../../src/gen/dlm/v1/download_pb.ts";
import { ProgressSchema, State } from "../../src/gen/dlm/v1/progress_pb.ts";
import { PageState } from "../../src/interfaces/http/dashboard/manager/page-state.ts";
import { QueueModel } from "../../src/interfaces/http/dashboard/manager/queue-model.ts";
import {
  displayName,
  parseRate,
  rateInput,
  rowText,
  rowToggle,
} from "../../src/interfaces/http/dashboard/manager/row-text.ts";
import { sourcesOf } from "../../src/interfaces/http/dashboard/manager/source-rates.ts";

// The manager page's bookkeeping and words, without a browser: what it keeps of WatchAll, where it resumes,
// how it orders, filters and pages, and what a row says.

function download(id: number, fields: MessageInitShape<typeof DownloadSchema> = {}): Download {
  return create(DownloadSchema, {
    id: BigInt(id),
    url: `http://127.0.0.1:1/f${id}.bin`,
    position: BigInt(id),
    state: DownloadState.QUEUED,
    ...fields,
  });
}

function message(
  seq: number,
  event: NonNullable<MessageInitShape<typeof WatchAllResponseSchema>["event"]>,
): WatchAllResponse {
  return create(WatchAllResponseSchema, { seq: BigInt(seq), event });
}

describe("QueueModel", () => {
  test("a snapshot, then stored events move seq; progress and stats never do", () => {
    const model = new QueueModel();
    model.apply(message(7, { case: "snapshot", value: { downloads: [download(1), download(2)] } }));
    expect([model.size, model.seq]).toEqual([2, 7n]);
    model.apply(message(8, { case: "added", value: download(3) }));
    model.apply(message(9, { case: "changed", value: download(1, { state: DownloadState.RUNNING }) }));
    model.apply(message(10, { case: "removed", value: 2n }));
    expect(model.seq).toBe(10n);
    expect(model.ordered().map((d) => d.id)).toEqual([1n, 3n]);
    model.apply(
      message(10, {
        case: "progress",
        value: download(1, { state: DownloadState.RUNNING, bytesDownloaded: 5n }),
      }),
    );
    model.apply(message(10, { case: "stats", value: { bytesPerSecond: 42 } }));
    expect(model.get(1n)?.bytesDownloaded).toBe(5n);
    expect(model.stats?.bytesPerSecond).toBe(42);
    expect(model.seq).toBe(10n);
  });

  test("a progress message that trails a state change does not undo it", () => {
    const model = new QueueModel();
    model.apply(message(1, { case: "added", value: download(1, { state: DownloadState.RUNNING }) }));
    model.apply(message(2, { case: "changed", value: download(1, { state: DownloadState.PAUSED }) }));
    model.apply(message(2, { case: "progress", value: download(1, { state: DownloadState.RUNNING }) }));
    expect(model.get(1n)?.state).toBe(DownloadState.PAUSED);
  });

  test("queue order: priority first, then position; neighbours for move up and down", () => {
    const model = new QueueModel();
    model.apply(
      message(1, {
        case: "snapshot",
        value: {
          downloads: [
            download(1, { position: 3n }),
            download(2, { position: 1n }),
            download(3, { priority: 5, position: 9n }),
          ],
        },
      }),
    );
    expect(model.ordered().map((d) => d.id)).toEqual([3n, 2n, 1n]);
    expect(model.neighbour(2n, -1)?.id).toBe(3n);
    expect(model.neighbour(2n, 1)?.id).toBe(1n);
    expect(model.neighbour(3n, -1)).toBeUndefined();
    expect(model.neighbour(1n, 1)).toBeUndefined();
  });

  test("filters by state and label, pages of a fixed size, clamps the page, counts per state", () => {
    const model = new QueueModel();
    const downloads = Array.from({ length: 120 }, (_, i) =>
      download(i + 1, {
        state: i % 3 === 0 ? DownloadState.FAILED : DownloadState.QUEUED,
        labels: i % 2 === 0 ? ["even"] : [],
      }),
    );
    model.apply(message(1, { case: "snapshot", value: { downloads } }));
    const all = model.view({ state: undefined, label: undefined, page: 2, pageSize: 50 });
    expect([all.rows.length, all.matching, all.page, all.pages]).toEqual([20, 120, 2, 3]);
    expect(all.rows[0]?.id).toBe(101n);
    const failedEven = model.view({ state: DownloadState.FAILED, label: "even", page: 9, pageSize: 50 });
    expect([failedEven.matching, failedEven.page]).toEqual([20, 0]);
    expect(model.counts().get(DownloadState.FAILED)).toBe(40);
    expect(model.labels()).toEqual(["even"]);
    // Kept between messages, computed again after a stored event.
    model.apply(
      message(2, { case: "changed", value: download(1, { state: DownloadState.PAUSED, labels: ["new"] }) }),
    );
    expect(model.counts().get(DownloadState.FAILED)).toBe(39);
    expect(model.counts().get(DownloadState.PAUSED)).toBe(1);
    expect(model.labels()).toEqual(["even", "new"]);
  });

  test("save and restore round-trip the list and seq (1,000 downloads: no argument-limit overflow)", () => {
    const model = new QueueModel();
    const downloads = Array.from({ length: 1000 }, (_, i) =>
      download(i + 1, { labels: ["x"], bytesDownloaded: 123n }),
    );
    model.apply(message(4242, { case: "snapshot", value: { downloads } }));
    const saved = model.save();
    const back = new QueueModel();
    expect(back.restore(saved)).toBe(true);
    expect([back.size, back.seq]).toEqual([1000, 4242n]);
    expect(back.get(500n)?.bytesDownloaded).toBe(123n);
    expect(back.restore("not a saved list")).toBe(false);
    expect(back.restore("12:@@@")).toBe(false);
    expect(back.size).toBe(1000);
  });

  test("clear forgets the list and asks for a snapshot next (seq 0)", () => {
    const model = new QueueModel();
    model.apply(message(5, { case: "added", value: download(1) }));
    model.clear();
    expect([model.size, model.seq]).toEqual([0, 0n]);
  });
});

describe("row text", () => {
  test("a running download: percent, size, rate, ETA, connections", () => {
    const d = download(1, {
      state: DownloadState.RUNNING,
      bytesDownloaded: 25n * 1024n * 1024n,
      totalBytes: 100n * 1024n * 1024n,
      bytesPerSecond: 5 * 1024 * 1024,
      activeConnections: 4,
      output: "model.bin",
    });
    const t = rowText(d, 0);
    expect(t).toMatchObject({
      name: "model.bin",
      state: "running",
      percent: 25,
      size: "25.0 MiB of 100 MiB",
      rate: "5.00 MiB/s",
      eta: "15s",
      connections: "4",
      problem: "",
      retry: "",
    });
  });

  test("a failure's reason is said once (its message names the status); a retrying one when it tries next", () => {
    const failed = download(1, {
      state: DownloadState.FAILED,
      failure: {
        kind: "http_status",
        httpStatus: 404,
        message: "HTTP 404 Not Found for http://x/f",
        retryable: false,
      },
    });
    // Once: not "http_status · HTTP 404 · HTTP 404 Not Found for …".
    expect(rowText(failed, 0).problem).toBe("HTTP 404 Not Found for http://x/f");
    const terse = download(4, {
      state: DownloadState.FAILED,
      failure: { kind: "http_status", httpStatus: 410, message: "gone for http://x/f", retryable: false },
    });
    expect(rowText(terse, 0).problem).toBe("HTTP 410: gone for http://x/f");
    const bare = download(5, {
      state: DownloadState.FAILED,
      failure: { kind: "storage", httpStatus: 0, message: "", retryable: false },
    });
    expect(rowText(bare, 0).problem).toBe("storage");
    const integrity = download(2, {
      state: DownloadState.FAILED,
      failure: { kind: "integrity", httpStatus: 0, message: "sha256 mismatch", retryable: false },
    });
    expect(rowText(integrity, 0).problem).toBe("sha256 mismatch");
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const retrying = download(3, {
      state: DownloadState.RETRYING,
      attempts: 2,
      nextTryTime: timestampFromMs(now + 42_000),
      failure: { kind: "network", httpStatus: 0, message: "connection refused", retryable: true },
    });
    expect(rowText(retrying, now).retry).toMatch(/^next try in 42s \(\d\d:\d\d:\d\d, attempt 3\)$/);
    expect(rowText(retrying, now + 60_000).retry).toStartWith("next try now");
  });

  test("names: the output, else the URL's last segment (decoded), else the URL", () => {
    expect(displayName(download(1, { path: "/d/a.iso" }))).toBe("a.iso");
    expect(displayName(download(1, { url: "http://h/dir/b%20c.iso" }))).toBe("b c.iso");
    expect(displayName(download(1, { url: "http://h/" }))).toBe("http://h/");
  });

  test.each([
    ["", 0],
    ["0", 0],
    ["512K", 512 * 1024],
    ["2M", 2 * 1024 * 1024],
    ["1.5m", 1.5 * 1024 * 1024],
    ["2MiB/s", 2 * 1024 * 1024],
    ["1048576", 1048576],
    ["fast", undefined],
    ["-1K", undefined],
  ] as const)("parseRate(%p) = %p", (input, expected) => {
    expect(parseRate(input)).toBe(expected);
  });

  test("rateInput writes limits back as people type them", () => {
    expect([rateInput(0n), rateInput(262144n), rateInput(3 * 1024 * 1024), rateInput(1000)]).toEqual([
      "",
      "256K",
      "3M",
      "1000",
    ]);
  });
});

describe("PageState", () => {
  test("the queue and the counters come from WatchAll; each change tells the page once", () => {
    const state = new PageState();
    let redraws = 0;
    state.subscribe(() => redraws++);
    state.applyWatch(message(3, { case: "snapshot", value: { downloads: [download(1), download(2)] } }), 1);
    state.applyWatch(message(3, { case: "stats", value: { bytesPerSecond: 10 } }), 2);
    state.applyWatch(message(3, { case: "stats", value: { bytesPerSecond: 20 } }), 3);
    expect(redraws).toBe(3);
    expect(state.queue.size).toBe(2);
    expect(state.globalSamples.map((s) => s.rate)).toEqual([10, 20]);
    // Old samples leave the chart's window (180 s).
    state.applyWatch(message(3, { case: "stats", value: { bytesPerSecond: 30 } }), 500);
    expect(state.globalSamples.map((s) => s.rate)).toEqual([30]);
  });

  test("the detail follows its own stream; it closes when its download is removed", () => {
    const state = new PageState();
    state.applyWatch(message(1, { case: "snapshot", value: { downloads: [download(1), download(2)] } }), 0);
    state.openDetail(1n);
    const running = (elapsedMs: number, rate: number) =>
      createProgress(ProgressSchema, {
        state: State.RUNNING,
        elapsedMs: BigInt(elapsedMs),
        bytesPerSecond: rate,
      });
    state.applyDetail(1n, running(1000, 5));
    state.applyDetail(1n, running(2000, 6));
    // A message of another download (a stream not yet ended) is ignored.
    state.applyDetail(2n, running(3000, 99));
    expect(state.detail?.samples.map((s) => s.rate)).toEqual([5, 6]);
    // A new run starts its clock again: the chart starts again with it.
    state.applyDetail(1n, running(500, 7));
    expect(state.detail?.samples.map((s) => s.rate)).toEqual([7]);
    state.applyWatch(message(2, { case: "removed", value: 1n }), 1);
    expect(state.detail).toBeUndefined();
  });

  test("filter, pages and selection; a label gone from the queue shows everything", () => {
    const state = new PageState();
    const downloads = Array.from({ length: 60 }, (_, i) => download(i + 1, { labels: i < 2 ? ["x"] : [] }));
    state.applyWatch(message(1, { case: "snapshot", value: { downloads } }), 0);
    state.turnPage(1);
    expect(state.view().rows[0]?.id).toBe(51n);
    state.turnPage(5);
    expect(state.view().page).toBe(1);
    state.filterLabel("x");
    expect(state.view().matching).toBe(2);
    state.applyWatch(message(2, { case: "changed", value: download(1) }), 0);
    state.applyWatch(message(3, { case: "changed", value: download(2) }), 0);
    expect(state.view().matching).toBe(60);
    state.select([1n, 2n, 3n], true);
    state.select([2n], false);
    state.applyWatch(message(4, { case: "removed", value: 3n }), 0);
    expect(state.selectedIds()).toEqual([1n]);
  });

  test("a removal is asked by name for one download, by count for several", () => {
    const state = new PageState();
    state.applyWatch(message(1, { case: "snapshot", value: { downloads: [download(1), download(2)] } }), 0);
    state.askRemove([]);
    expect(state.removing).toBeUndefined();
    state.askRemove([1n]);
    expect(state.removing?.name).toBe("f1.bin");
    state.askRemove([1n, 2n]);
    expect(state.removing).toEqual({ ids: [1n, 2n], name: undefined });
    state.answered();
    expect(state.removing).toBeUndefined();
  });
});

describe("row toggle", () => {
  test.each([
    [DownloadState.RUNNING, "Pause", "pause", false],
    [DownloadState.QUEUED, "Pause", "pause", false],
    [DownloadState.PAUSED, "Resume", "resume", false],
    [DownloadState.FAILED, "Retry", "resume", false],
    [DownloadState.RETRYING, "Retry now", "resume", false],
    [DownloadState.FINISHED, "Pause", "pause", true],
    [DownloadState.VERIFYING, "Pause", "pause", true],
  ] as const)("state %p: %p, calls %p, disabled %p", (state, label, command, disabled) => {
    expect(rowToggle(state)).toEqual({ label, command, disabled });
  });
});

describe("sources of the detail", () => {
  const conn = (worker: number, source: number | undefined, rate: number, extra = {}) => ({
    worker,
    source,
    bytesPerSecond: rate,
    measured: rate > 0,
    segment: worker,
    state: "active" as const,
    retries: 0,
    slow: false,
    ...extra,
  });

  test("each source sums its connections' rates; one without connections is idle; trouble shows", () => {
    const sources = sourcesOf(
      [conn(0, 0, 100), conn(1, 1, 50), conn(2, 0, 25), conn(3, 1, 5, { slow: true })],
      ["http://a/f", "http://b/f", "http://c/f"],
    );
    expect(sources).toEqual([
      { id: 0, url: "http://a/f", bytesPerSecond: 125, connections: 2, state: "active" },
      { id: 1, url: "http://b/f", bytesPerSecond: 55, connections: 2, state: "trouble" },
      { id: 2, url: "http://c/f", bytesPerSecond: 0, connections: 0, state: "idle" },
    ]);
  });

  test("a connection that names no source counts for the URL given; an unknown source is listed", () => {
    const sources = sourcesOf([conn(0, undefined, 10), conn(1, 3, 20)], ["http://a/f"]);
    expect(sources.map((s) => [s.id, s.url, s.bytesPerSecond])).toEqual([
      [0, "http://a/f", 10],
      [3, undefined, 20],
    ]);
  });
});
