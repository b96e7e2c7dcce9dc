import type { SimSource } from "./link-simulator.ts";

const MiB = 1 << 20;
/** The bench's mirrors scenario: 12 MiB/s per connection, 48 MiB/s in all (bench/run-mirrors.ts). */
const MIRROR: SimSource = { name: "mirror", capBytesPerSec: 12 * MiB, totalCapBytesPerSec: 48 * MiB };
const SLOW: SimSource = { name: "8x slower", capBytesPerSec: 1.5 * MiB, totalCapBytesPerSec: 6 * MiB };

/** One row of the sources table: mirrors and how far from ideal (idealSourcesSeconds) the run may end. */
export interface SourceCase {
  readonly name: string;
  readonly sources: readonly SimSource[];
  readonly bound: number;
}

export const SOURCE_SHAPES: readonly SourceCase[] = [
  {
    name: "two mirrors + one 8x slower (bench)",
    sources: [MIRROR, MIRROR, SLOW],
    // 1.05 (1.09-1.10 while a steal sent a worker to the fastest mirror, counted on its own): a source exactly
    // at its total cap with 4 connections loses each request's round trip, and finding that a fifth
    // connection adds nothing costs a move there and back.
    bound: 1.08,
  },
  {
    name: "one mirror dies at 0.5 s",
    sources: [MIRROR, MIRROR, { ...MIRROR, name: "dies", diesAtMs: 500 }],
    bound: 1.25,
  },
  {
    name: "one mirror corrupts (marked)",
    sources: [MIRROR, MIRROR, { ...MIRROR, name: "corrupts", corrupts: true }],
    // Its bytes count as good here (the piece hashes that catch it are branch src's): faster than ideal.
    bound: 1.1,
  },
  {
    name: "one accepts two connections (503 beyond)",
    sources: [MIRROR, { ...MIRROR, name: "two only", totalCapBytesPerSec: 24 * MiB, acceptsConnections: 2 }],
    bound: 1.15,
  },
  {
    name: "three mirrors, 24 MiB/s in all each",
    sources: [0, 1, 2].map(() => ({ ...MIRROR, totalCapBytesPerSec: 24 * MiB })),
    bound: 1.1,
  },
];

export const SOURCE_SIZES_MIB = [16, 256] as const;
export const SOURCE_CONNECTIONS = [12, 16] as const;
