/**
 * The dashboard's rate-over-time chart: samples in, SVG point lists out. Pure (no DOM) so the geometry is
 * unit-tested; the page sets the strings on a `<polyline>` and a `<polygon>`.
 */

/** One rate sample: server time (seconds since the download process started) and bytes per second. */
export interface RateSample {
  readonly t: number;
  readonly rate: number;
}

/** Chart geometry: the SVG viewBox size and the time window kept, seconds. */
export interface ChartFrame {
  readonly width: number;
  readonly height: number;
  readonly windowSeconds: number;
}

/** Point lists for the line and the filled area below it, and the scale used. */
export interface ChartShape {
  readonly line: string;
  readonly area: string;
  /** Rate at the top of the chart, bytes per second. */
  readonly top: number;
  /**
   * Seconds the x axis spans: the download's age (at least 2 s) up to the window, so the start of the
   * download is the left edge. A page opened late leaves the time before it blank rather than stretching
   * its few samples over the width.
   */
  readonly span: number;
}

/** Drops samples older than the window before `now` (in place; samples are in time order). */
export function trimSamples(samples: RateSample[], now: number, windowSeconds: number): void {
  let old = 0;
  while (old < samples.length && (samples[old]?.t ?? now) < now - windowSeconds) old++;
  if (old > 0) samples.splice(0, old);
}

/** Lays `samples` out in `frame`: newest at the right edge, the peak at 90 % of the height. */
export function chartShape(samples: readonly RateSample[], frame: ChartFrame): ChartShape {
  const newest = samples.at(-1)?.t ?? 0;
  const span = Math.min(frame.windowSeconds, Math.max(2, newest));
  const top = Math.max(1, ...samples.map((s) => s.rate)) / 0.9;
  const points = samples.map((s) => {
    const x = frame.width - ((newest - s.t) / span) * frame.width;
    const y = frame.height - (s.rate / top) * frame.height;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const line = points.join(" ");
  const first = points[0]?.split(",")[0];
  const area = first === undefined ? "" : `${first},${frame.height} ${line} ${frame.width},${frame.height}`;
  return { line, area, top, span };
}
