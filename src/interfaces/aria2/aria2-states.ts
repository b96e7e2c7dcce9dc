import type { QueueState } from "../../manager/download-record.ts";

/** Queue states aria2 calls active (tellActive). */
export const ACTIVE_STATES: readonly QueueState[] = ["running", "verifying"];
/** Queue states aria2 lists in tellWaiting: waiting and paused downloads, in queue order. */
export const WAITING_STATES: readonly QueueState[] = ["queued", "retrying", "paused"];
/** Queue states aria2 calls stopped (tellStopped), besides removed downloads. */
export const STOPPED_STATES: readonly QueueState[] = ["finished", "failed"];
