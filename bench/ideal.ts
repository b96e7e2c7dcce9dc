import type { PacedConnection } from "./pacer.ts";

/** The aggregate cap a tool had, and the ideal time it implies. */
export interface Ideal {
  /** Peak sum of per-connection caps over connections carrying body at the same moment, bytes/s. */
  capSumBytesPerSec: number;
  /** How many connections made up that peak, and how many of those had less than the largest cap. */
  connections: number;
  slowConnections: number;
  /** latency + size / capSum, seconds. */
  seconds: number;
}

/**
 * Ideal time of one run on a capped link: `latency + size / C`, where C is the largest sum of caps of the
 * connections that were carrying body at the same moment (a connection carries body from its first to its
 * last body byte as the pacer wrote them). So the tool is measured against the connections it actually got:
 * on the uneven link a tool that drew two slow connections out of eight is held to 6 x cap + 2 x cap/8.
 * Connections that carried less than 1% of the file (probes, requests the tool abandoned at once) are left
 * out, so a short overlap with a probe does not raise C. Undefined when a counted connection is uncapped
 * or none carried enough body.
 */
export function idealOf(
  connections: readonly PacedConnection[],
  sizeBytes: number,
  latencyMs: number,
): Ideal | undefined {
  const minBytes = Math.max(1, sizeBytes / 100);
  const counted = connections.filter((c) => c.bytes >= minBytes);
  if (counted.length === 0) return undefined;
  const events: { at: number; cap: number; step: 1 | -1 }[] = [];
  let topCap = 0;
  for (const c of counted) {
    if (c.capBytesPerSec === undefined || c.firstByteAt === undefined || c.lastByteAt === undefined)
      return undefined;
    topCap = Math.max(topCap, c.capBytesPerSec);
    events.push({ at: c.firstByteAt, cap: c.capBytesPerSec, step: 1 });
    events.push({ at: c.lastByteAt, cap: c.capBytesPerSec, step: -1 });
  }
  // Ends before starts at the same instant: a connection that took over from another does not overlap it.
  events.sort((a, b) => a.at - b.at || a.step - b.step);
  let sum = 0;
  let open = 0;
  let slow = 0;
  let best = { sum: 0, open: 0, slow: 0 };
  for (const e of events) {
    sum += e.step * e.cap;
    open += e.step;
    if (e.cap < topCap) slow += e.step;
    if (sum > best.sum) best = { sum, open, slow };
  }
  return {
    capSumBytesPerSec: best.sum,
    connections: best.open,
    slowConnections: best.slow,
    seconds: latencyMs / 1000 + sizeBytes / best.sum,
  };
}
