import { InPlaceSink } from "./in-place-sink.ts";
import { PartsSink } from "./parts-sink.ts";
import type { Sink, StorageKind } from "./sink.ts";

/**
 * The storage implementation of `kind`, rooted in the sidecar directory `dir`; `base` is the output offset
 * of the first byte kept (start of a --range slice).
 */
export function createSink(kind: StorageKind, dir: string, base: number): Sink {
  return kind === "parts" ? new PartsSink(dir) : new InPlaceSink(dir, base);
}
