import { describe, expect, test } from "bun:test";
import { HttpStatusError, IntegrityError, NetworkError } from "../../src/errors.ts";
import { failureInfo, MAX_ATTEMPTS, retryDelayMs } from "../../src/manager/failure-info.ts";
import { compareQueueOrder, QUEUE_ORDER_SQL } from "../../src/manager/queue-order.ts";
import { planQueue, type QueueSituation, type WaitingDownload } from "../../src/manager/queue-plan.ts";

function waiting(id: number, extra: Partial<WaitingDownload> = {}): WaitingDownload {
  return { id, state: "queued", priority: 0, position: id, connections: 0, nextTryAt: undefined, ...extra };
}

const base: QueueSituation = {
  waiting: [],
  running: [],
  maxActive: 3,
  connectionBudget: 16,
  defaultConnections: 4,
  now: 1000,
};

describe("planQueue", () => {
  const cases: [string, Partial<QueueSituation>, { start: [number, number][]; wakeAt?: number }][] = [
    ["nothing waiting", {}, { start: [] }],
    [
      "fills free slots in position order",
      { waiting: [waiting(3), waiting(1), waiting(2), waiting(4)] },
      {
        start: [
          [1, 4],
          [2, 4],
          [3, 4],
        ],
      },
    ],
    [
      "running downloads take slots",
      { waiting: [waiting(1), waiting(2)], running: [4, 4] },
      { start: [[1, 4]] },
    ],
    [
      "higher priority first",
      { waiting: [waiting(1), waiting(2, { priority: 5 })], maxActive: 1 },
      {
        start: [[2, 4]],
      },
    ],
    [
      "position breaks priority ties",
      { waiting: [waiting(1, { position: 9 }), waiting(2, { position: 3 })], maxActive: 1 },
      {
        start: [[2, 4]],
      },
    ],
    [
      "paused, failed and finished never start",
      {
        waiting: [
          waiting(1, { state: "paused" }),
          waiting(2, { state: "failed" }),
          waiting(3, { state: "finished" }),
        ],
      },
      { start: [] },
    ],
    [
      "a download gets what is left of the budget",
      { waiting: [waiting(1, { connections: 12 }), waiting(2, { connections: 8 })] },
      {
        start: [
          [1, 12],
          [2, 4],
        ],
      },
    ],
    [
      "a tight budget still runs max-active downloads, with fewer connections",
      {
        waiting: [
          waiting(1, { connections: 8 }),
          waiting(2, { connections: 8 }),
          waiting(3, { connections: 8 }),
        ],
      },
      {
        start: [
          [1, 8],
          [2, 7],
          [3, 1],
        ],
      },
    ],
    [
      "a spent budget starts nothing, even with slots",
      { waiting: [waiting(1)], running: [16] },
      { start: [] },
    ],
    [
      "a retry that is due starts; a later one sets wakeAt",
      {
        waiting: [
          waiting(1, { state: "retrying", nextTryAt: 900 }),
          waiting(2, { state: "retrying", nextTryAt: 5000 }),
        ],
      },
      { start: [[1, 4]], wakeAt: 5000 },
    ],
  ];
  test.each(cases)("%s", (_name, situation, expected) => {
    const plan = planQueue({ ...base, ...situation });
    expect(plan.start.map((s) => [s.id, s.connections])).toEqual(expected.start);
    expect(plan.wakeAt).toBe(expected.wakeAt);
  });
});

describe("failureInfo and retryDelayMs", () => {
  test("network failures and 5xx/408/429 are retryable; 404 and integrity are not", () => {
    expect(failureInfo(new NetworkError("x", { reason: "refused" })).retryable).toBe(true);
    for (const status of [500, 503, 408, 429])
      expect(failureInfo(new HttpStatusError("x", { status })).retryable).toBe(true);
    const notFound = failureInfo(new HttpStatusError("http://o/f: 404", { status: 404 }));
    expect(notFound).toEqual({
      kind: "http_status",
      httpStatus: 404,
      retryable: false,
      message: "http://o/f: 404",
    });
    expect(failureInfo(new IntegrityError("bad")).retryable).toBe(false);
  });

  test("backoff doubles from the base, honours a longer Retry-After, and ends after MAX_ATTEMPTS", () => {
    expect(retryDelayMs(1, undefined, 100)).toBe(100);
    expect(retryDelayMs(3, undefined, 100)).toBe(400);
    expect(retryDelayMs(1, "7", 100)).toBe(7000);
    expect(retryDelayMs(MAX_ATTEMPTS, undefined, 100)).toBeUndefined();
  });
});

describe("compareQueueOrder", () => {
  test("priority descending, then position, then id; the SQL stores sort the same", () => {
    const rows = [
      { id: 3, priority: 0, position: 1 },
      { id: 1, priority: 0, position: 2 },
      { id: 2, priority: 5, position: 9 },
      { id: 4, priority: 0, position: 1 },
    ];
    expect([...rows].sort(compareQueueOrder).map((r) => r.id)).toEqual([2, 3, 4, 1]);
    expect(QUEUE_ORDER_SQL).toBe("priority DESC, position, id");
  });
});
