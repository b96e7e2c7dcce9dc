import { SegmentState, State } from "../../gen/dlm/v1/progress_pb.ts";
import type { DownloadState, SegmentProgress } from "../../progress/snapshot.ts";

/** Proto download states back to dlm's own (for clients of the stream: `dlm watch`, the dashboard). */
export const DOWNLOAD_STATES: Readonly<Record<State, DownloadState>> = {
  [State.UNSPECIFIED]: "probing",
  [State.PROBING]: "probing",
  [State.RUNNING]: "running",
  [State.PAUSED]: "paused",
  [State.VERIFYING]: "verifying",
  [State.FINISHED]: "finished",
  [State.FAILED]: "failed",
  [State.CANCELLED]: "cancelled",
};

/** Proto segment states back to dlm's own. */
export const SEGMENT_STATES: Readonly<Record<SegmentState, SegmentProgress["state"]>> = {
  [SegmentState.UNSPECIFIED]: "pending",
  [SegmentState.PENDING]: "pending",
  [SegmentState.ACTIVE]: "active",
  [SegmentState.RETRYING]: "retrying",
  [SegmentState.DONE]: "done",
  [SegmentState.STALLED]: "stalled",
};
