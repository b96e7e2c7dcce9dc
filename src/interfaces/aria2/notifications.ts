import { ACTIVE_STATES, type QueueState, type StoredEvent } from "../../manager/download-record.ts";
import type { Manager } from "../../manager/manager.ts";
import { gidOf } from "./gid.ts";

/** aria2's notifications (onBtDownloadComplete is listed as aria2 lists it; dlm never sends it). */
export const NOTIFICATIONS: readonly string[] = [
  "aria2.onDownloadStart",
  "aria2.onDownloadPause",
  "aria2.onDownloadStop",
  "aria2.onDownloadComplete",
  "aria2.onDownloadError",
  "aria2.onBtDownloadComplete",
];

/** A notification as aria2 sends it over WebSocket. */
export interface Notification {
  readonly jsonrpc: "2.0";
  readonly method: string;
  readonly params: readonly [{ readonly gid: string }];
}

/**
 * The notification a stored event means, given the download's state before it: a start when it starts
 * running, a pause, a completion, an error, a stop when it is removed while running. Undefined for the
 * rest (adds, option changes, verification, retry waits).
 */
export function notificationOf(event: StoredEvent, before: QueueState | undefined): string | undefined {
  const state = event.record.state;
  // aria2 tells of a removal only when the download was running (a waiting one leaves silently).
  if (event.kind === "removed") return ACTIVE_STATES.has(state) ? "aria2.onDownloadStop" : undefined;
  if (event.kind !== "changed" || state === before) return undefined;
  if (state === "running" && before !== "verifying") return "aria2.onDownloadStart";
  if (state === "paused") return "aria2.onDownloadPause";
  if (state === "finished") return "aria2.onDownloadComplete";
  if (state === "failed") return "aria2.onDownloadError";
  return undefined;
}

/**
 * Feeds `send` with aria2 notifications from the manager's stored events (every door's changes, in seq
 * order). Returns the unsubscription.
 */
export function notifyFrom(manager: Manager, send: (notification: Notification) => void): () => void {
  const states = new Map<number, QueueState>();
  return manager.subscribe((message) => {
    if (message.kind !== "stored") return;
    const { event } = message;
    const method = notificationOf(event, states.get(event.downloadId));
    if (event.kind === "removed") states.delete(event.downloadId);
    else states.set(event.downloadId, event.record.state);
    if (method !== undefined) send({ jsonrpc: "2.0", method, params: [{ gid: gidOf(event.downloadId) }] });
  });
}
