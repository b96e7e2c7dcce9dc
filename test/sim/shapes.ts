import type { LinkShape } from "./link-simulator.ts";

const MiB = 1 << 20;
/** The bench's default per-connection cap (bench/args.ts --rate). */
export const CAP = 16 * MiB;
/**
 * Round trip of a loopback request through the bench's pacer: its token clock writes a request's first
 * 256 KiB slice after one slice time (~16 ms at 16 MiB/s), which costs about what a round trip would.
 */
const LOOPBACK_RTT_MS = 2;

/** One row of the table: a link shape and how far from ideal the scheduler may end on it. */
export interface ShapeCase {
  readonly shape: LinkShape;
  /** Upper bound of seconds / ideal seconds asserted in CI, at every size and connection count. */
  readonly bound: number;
}

/** The link shapes of the simulator table; `bound` is what the current scheduler is held to. */
export const SHAPES: readonly ShapeCase[] = [
  { shape: { name: "capped", capBytesPerSec: CAP, rttMs: LOOPBACK_RTT_MS }, bound: 1.06 },
  {
    shape: {
      name: "uneven (every 4th conn 8x slower)",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      slowSlots: { every: 4, factor: 8 },
    },
    bound: 1.1,
  },
  {
    shape: { name: "+40 ms RTT", capBytesPerSec: CAP, rttMs: 40, connectMs: 40 },
    bound: 1.1,
  },
  {
    shape: {
      name: "conn 3 slows 8x at 0.3 s",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      slowdown: { connection: 3, atMs: 300, factor: 8 },
    },
    bound: 1.15,
  },
  {
    shape: {
      name: "every 4th worker 8x slower (no escape)",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      slowWorkers: { every: 4, factor: 8 },
    },
    bound: 1.2,
  },
  {
    shape: {
      name: "link cap 128 MiB/s",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      linkCapBytesPerSec: 128 * MiB,
    },
    bound: 1.06,
  },
  {
    shape: {
      name: "every 5th conn drops after 6 MiB",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      drops: { every: 5, afterBytes: 6 * MiB },
    },
    // Each drop waits out worker.ts's retry backoff (full jitter, up to 0.5 s): on a 0.5 s file, that shows.
    bound: 1.2,
  },
  {
    shape: {
      name: "every 7th conn stalls after 2 MiB",
      capBytesPerSec: CAP,
      rttMs: LOOPBACK_RTT_MS,
      stalls: { every: 7, afterBytes: 2 * MiB },
    },
    bound: 1.1,
  },
];

/** File sizes (MiB) and connection counts of the table. */
export const SIZES_MIB = [16, 128, 1024] as const;
export const CONNECTIONS = [8, 16] as const;
