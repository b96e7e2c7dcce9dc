import { DownloadState } from "../../gen/dlm/v1/download_pb.ts";
import type { QueueState } from "../../manager/download-record.ts";

// The queue's states as dlm.v1.DownloadState, shared by the service (rpc/) and its clients (cli/).

/** Queue states on the wire. */
export const WIRE_STATES: Readonly<Record<QueueState, DownloadState>> = {
  queued: DownloadState.QUEUED,
  running: DownloadState.RUNNING,
  paused: DownloadState.PAUSED,
  retrying: DownloadState.RETRYING,
  verifying: DownloadState.VERIFYING,
  finished: DownloadState.FINISHED,
  failed: DownloadState.FAILED,
};

/** Wire states back to queue states (REMOVED and UNSPECIFIED have none). */
export function queueStateOf(state: DownloadState): QueueState | undefined {
  for (const [name, wire] of Object.entries(WIRE_STATES)) if (wire === state) return name as QueueState;
  return undefined;
}

/** The lower-case name clients print: "queued", "running"... ("removed" for REMOVED). */
export function stateName(state: DownloadState): string {
  return state === DownloadState.REMOVED ? "removed" : (queueStateOf(state) ?? "unknown");
}
