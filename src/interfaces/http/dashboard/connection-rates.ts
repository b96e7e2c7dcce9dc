/**
 * The dashboard's list of connections, read off the segments of a Progress message: each fetching
 * segment carries its connection's rate and slow flag as the engine measures and judges them (the same
 * numbers it restarts slow connections by), so the page shows them as they are and derives nothing. Pure
 * (no DOM), so it is unit-tested under Bun.
 */

/** What the list reads of a segment (numbers: the page converts the proto's bigints first). */
export interface RateSegment {
  readonly id: number;
  /** Owner while fetching; undefined otherwise. */
  readonly worker: number | undefined;
  readonly state: "pending" | "active" | "retrying" | "done" | "stalled";
  readonly retries: number;
  /** The engine's smoothed rate of the owner's connection, bytes per second. */
  readonly bytesPerSecond: number;
  /** The engine judges the owner's connection far slower than its peers. */
  readonly slow: boolean;
}

/** One connection as the dashboard lists it. */
export interface ConnectionInfo {
  readonly worker: number;
  /** The engine's smoothed rate, bytes per second; 0 until it has measured one. */
  readonly bytesPerSecond: number;
  /** False until the engine has a rate for it. */
  readonly measured: boolean;
  /** Segment it is fetching. */
  readonly segment: number;
  readonly state: "active" | "retrying" | "stalled";
  readonly retries: number;
  readonly slow: boolean;
}

/** The connections fetching in one message, in worker order. */
export function connectionsOf(segments: readonly RateSegment[]): ConnectionInfo[] {
  const connections: ConnectionInfo[] = [];
  for (const s of segments) {
    if (s.worker === undefined || s.state === "done" || s.state === "pending") continue;
    connections.push({
      worker: s.worker,
      bytesPerSecond: s.bytesPerSecond,
      measured: s.bytesPerSecond > 0,
      segment: s.id,
      state: s.state,
      retries: s.retries,
      slow: s.slow,
    });
  }
  return connections.sort((a, b) => a.worker - b.worker);
}

/** What is wrong with a connection, for its line in the list ("retrying, slow, 2 retries"); "" when nothing. */
export function connectionTrouble(c: ConnectionInfo): string {
  return [
    c.state === "active" ? "" : c.state,
    c.slow ? "slow" : "",
    c.retries > 0 ? `${c.retries} retries` : "",
  ]
    .filter((m) => m !== "")
    .join(", ");
}
