/**
 * The per-download view's list of sources (the URL given, then its mirrors): each one's rate, connections
 * and state, read off the connections of a Progress message (connection-rates.ts). A segment names its
 * source once the engine reports one (`source`, id 0 = the URL given); until then every connection counts
 * for source 0. Pure (no DOM), unit-tested under Bun.
 */
import type { ConnectionInfo } from "../connection-rates.ts";

/** A connection with the source its segment is fetched from (undefined: not said, source 0). */
export interface SourcedConnection extends ConnectionInfo {
  readonly source: number | undefined;
}

/** One source as the detail lists it. */
export interface SourceInfo {
  /** 0 = the URL given; the others in the order they were learned. */
  readonly id: number;
  /** Its URL when known. */
  readonly url: string | undefined;
  /** The sum of its connections' rates, bytes per second. */
  readonly bytesPerSecond: number;
  readonly connections: number;
  /** "trouble": one of its connections stalls, retries or is slow; "idle": no connection on it now. */
  readonly state: "active" | "idle" | "trouble";
}

/** Every source: those of `urls` (by index) and any other a connection names, in id order. */
export function sourcesOf(connections: readonly SourcedConnection[], urls: readonly string[]): SourceInfo[] {
  const ids = new Set<number>(urls.map((_, i) => i));
  for (const c of connections) ids.add(c.source ?? 0);
  return [...ids]
    .sort((a, b) => a - b)
    .map((id) => {
      const mine = connections.filter((c) => (c.source ?? 0) === id);
      const trouble = mine.some((c) => c.state !== "active" || c.slow);
      return {
        id,
        url: urls[id],
        bytesPerSecond: mine.reduce((sum, c) => sum + c.bytesPerSecond, 0),
        connections: mine.length,
        state: trouble ? "trouble" : mine.length > 0 ? "active" : "idle",
      };
    });
}
