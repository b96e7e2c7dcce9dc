import { describe, expect, test } from "bun:test";
import {
  connectionsOf,
  connectionTrouble,
  type RateSegment,
} from "../../src/interfaces/http/dashboard/connection-rates.ts";
import { chartShape, type RateSample, trimSamples } from "../../src/interfaces/http/dashboard/rate-chart.ts";

// The browser dashboard's pure parts: the connection list read off a message's segments, and the rate
// chart's geometry. The DOM side is covered by the browser test (dashboard.test.ts).

function s(
  id: number,
  worker: number | undefined,
  bytesPerSecond: number,
  extra: Partial<RateSegment> = {},
): RateSegment {
  return { id, worker, bytesPerSecond, state: "active", retries: 0, slow: false, ...extra };
}

describe("connectionsOf", () => {
  test("one entry per fetching segment, in worker order, with the engine's rate as sent", () => {
    expect(connectionsOf([s(4, 1, 2500.5), s(3, 0, 1000)])).toEqual([
      {
        worker: 0,
        bytesPerSecond: 1000,
        measured: true,
        segment: 3,
        state: "active",
        retries: 0,
        slow: false,
      },
      {
        worker: 1,
        bytesPerSecond: 2500.5,
        measured: true,
        segment: 4,
        state: "active",
        retries: 0,
        slow: false,
      },
    ]);
  });

  test("the slow flag is the engine's: a rate far under its peers is not marked unless the engine says so", () => {
    const list = connectionsOf([s(0, 0, 1000), s(1, 1, 1000), s(2, 2, 10), s(3, 3, 900, { slow: true })]);
    expect(list.map((c) => [c.worker, c.slow])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
  });

  test("done and pending segments are not connections; trouble states and retries pass through", () => {
    const list = connectionsOf([
      s(0, undefined, 0, { state: "done" }),
      s(1, undefined, 0, { state: "pending" }),
      s(2, 0, 0, { state: "retrying", retries: 2 }),
      s(3, 1, 0, { state: "stalled" }),
    ]);
    expect(list.map((c) => [c.worker, c.state, c.retries, c.measured])).toEqual([
      [0, "retrying", 2, false],
      [1, "stalled", 0, false],
    ]);
  });
});

describe("connectionTrouble", () => {
  const base = { worker: 1, bytesPerSecond: 1, measured: true, segment: 0, retries: 0, slow: false } as const;
  test("says nothing for a healthy connection, and names each trouble in order", () => {
    expect(connectionTrouble({ ...base, state: "active" })).toBe("");
    expect(connectionTrouble({ ...base, state: "retrying", slow: true, retries: 2 })).toBe(
      "retrying, slow, 2 retries",
    );
    expect(connectionTrouble({ ...base, state: "stalled" })).toBe("stalled");
  });
});

describe("rate chart", () => {
  const frame = { width: 600, height: 120, windowSeconds: 180 };

  test("newest sample at the right edge, the peak at 90 % height; the axis starts at the download's start", () => {
    const shape = chartShape(
      [
        { t: 0, rate: 0 },
        { t: 5, rate: 900 },
        { t: 10, rate: 450 },
      ],
      frame,
    );
    expect(shape.line).toBe("0.0,120.0 300.0,12.0 600.0,66.0");
    expect(shape.area).toBe("0.0,120 0.0,120.0 300.0,12.0 600.0,66.0 600,120");
    expect(shape.top).toBe(1000);
    expect(shape.span).toBe(10);
    expect(chartShape([{ t: 0.5, rate: 1 }], frame).span).toBe(2);
  });

  test("no samples draw nothing; a zero rate stays on the baseline", () => {
    expect(chartShape([], frame)).toMatchObject({ line: "", area: "" });
    expect(chartShape([{ t: 1, rate: 0 }], frame).line).toBe("600.0,120.0");
  });

  test("the axis spans the download's age, so a page opened late leaves the start blank", () => {
    const shape = chartShape(
      [
        { t: 30, rate: 9 },
        { t: 40, rate: 9 },
      ],
      frame,
    );
    expect(shape.span).toBe(40);
    expect(shape.line).toBe("450.0,12.0 600.0,12.0");
  });

  test("samples older than the window are dropped; the axis stops growing at the window", () => {
    const samples: RateSample[] = [0, 100, 200, 300].map((t) => ({ t, rate: 1 }));
    trimSamples(samples, 300, 180);
    expect(samples.map((x) => x.t)).toEqual([200, 300]);
    expect(chartShape(samples, frame).span).toBe(180);
  });
});
