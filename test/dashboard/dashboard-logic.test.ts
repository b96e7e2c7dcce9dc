import { describe, expect, test } from "bun:test";
import { ConnectionRates, type RateSegment } from "../../src/interfaces/http/dashboard/connection-rates.ts";
import { chartShape, type RateSample, trimSamples } from "../../src/interfaces/http/dashboard/rate-chart.ts";

// The browser dashboard's pure parts: per-connection rates worked out from successive messages, and the
// rate chart's geometry. The DOM side is covered by the browser test (dashboard.test.ts).

function s(id: number, done: number, worker: number | undefined, state: RateSegment["state"] = "active") {
  return { id, done, worker, state, retries: 0 };
}

describe("ConnectionRates", () => {
  test("the first message is the baseline; the next gives bytes over seconds", () => {
    const rates = new ConnectionRates();
    expect(rates.update(0, [s(0, 500, 0)])).toEqual([
      { worker: 0, bytesPerSecond: 0, measured: false, segment: 0, state: "active", retries: 0, slow: false },
    ]);
    expect(rates.update(1000, [s(0, 1500, 0)])[0]).toMatchObject({ bytesPerSecond: 1000, measured: true });
  });

  test("rates are smoothed: a sudden change moves them part of the way", () => {
    const rates = new ConnectionRates();
    rates.update(0, [s(0, 0, 0)]);
    rates.update(1000, [s(0, 1000, 0)]);
    const next = rates.update(2000, [s(0, 4000, 0)])[0]?.bytesPerSecond ?? 0;
    // 1000 + (1 - e^-0.5) * (3000 - 1000)
    expect(next).toBeCloseTo(1000 + (1 - Math.exp(-0.5)) * 2000, 6);
  });

  test("bytes of a segment that finished count for the connection that fetched it, as do a new one's", () => {
    const rates = new ConnectionRates();
    rates.update(0, [s(0, 0, 0), s(1, 0, 1)]);
    // Connection 0 finished segment 0 (600 more bytes) and started segment 2 (400 bytes so far).
    const now = rates.update(1000, [s(0, 600, undefined, "done"), s(1, 1000, 1), s(2, 400, 0)]);
    expect(now.map((c) => [c.worker, c.segment, c.bytesPerSecond])).toEqual([
      [0, 2, 1000],
      [1, 1, 1000],
    ]);
  });

  test("a connection under half the median is slow; trouble states pass through", () => {
    const rates = new ConnectionRates();
    rates.update(0, [s(0, 0, 0), s(1, 0, 1), s(2, 0, 2)]);
    const now = rates.update(1000, [s(0, 1000, 0), s(1, 900, 1), s(2, 100, 2, "retrying")]);
    expect(now.map((c) => [c.worker, c.slow, c.state])).toEqual([
      [0, false, "active"],
      [1, false, "active"],
      [2, true, "retrying"],
    ]);
  });

  test("one connection alone is never slow; a message that does not move time changes nothing", () => {
    const rates = new ConnectionRates();
    rates.update(0, [s(0, 0, 0)]);
    rates.update(1000, [s(0, 10, 0)]);
    expect(rates.update(1000, [s(0, 5000, 0)])[0]).toMatchObject({ bytesPerSecond: 10, slow: false });
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
