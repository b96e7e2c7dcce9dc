import { SAMPLE_BYTES, type StoredSample } from "./refresh.ts";
import type { Segment } from "./segment.ts";
import type { Sink } from "./storage/sink.ts";

/**
 * Reads back up to SAMPLE_BYTES already stored for the same-file check of a refresh: from the start of the
 * segment with the most bytes readable (`readable(segment)`: bytes from its start that reached the OS).
 * Offsets are the remote file's, as segments' are. Undefined when nothing is stored.
 */
export async function readStoredSample(
  segments: readonly Segment[],
  readable: (segment: Segment) => number,
  sink: Sink,
): Promise<StoredSample | undefined> {
  let best: Segment | undefined;
  let most = 0;
  for (const segment of segments) {
    const n = Math.min(readable(segment), segment.done);
    if (n > most) [best, most] = [segment, n];
  }
  if (best === undefined) return undefined;
  const length = Math.min(most, SAMPLE_BYTES);
  const where = sink.locate(best, best.start);
  const bytes = new Uint8Array(
    await Bun.file(where.path)
      .slice(where.position, where.position + length)
      .arrayBuffer(),
  );
  return bytes.length === length ? { offset: best.start, bytes } : undefined;
}
