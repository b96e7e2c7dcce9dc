/**
 * A Progress message's segments with their byte counts as numbers: both dashboards convert the proto's
 * bigints once, here, before drawing the map and the connection list.
 */
import type { Progress } from "../../../gen/dlm/v1/progress_pb.ts";
import { SEGMENT_STATES } from "../../shared/proto-states.ts";
import type { RateSegment } from "./connection-rates.ts";

/** A segment with its byte counts as numbers. */
export interface PlainSegment extends RateSegment {
  readonly start: number;
  readonly end: number;
  readonly done: number;
}

/** `segments` converted, in order (owners are filled in by SegmentOwners afterwards). */
export function plainSegmentsOf(segments: Progress["segments"]): PlainSegment[] {
  return segments.map((s) => ({
    id: s.id,
    start: Number(s.start),
    end: Number(s.end),
    done: Number(s.done),
    worker: s.worker,
    state: SEGMENT_STATES[s.state],
    retries: s.retries,
    bytesPerSecond: s.bytesPerSecond,
    slow: s.slow,
  }));
}
