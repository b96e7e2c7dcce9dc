import { rm } from "node:fs/promises";
import { REQUEST_DEFAULTS } from "../engine/download-request.ts";
import { sidecarOf } from "../engine/prepare.ts";
import { renewSidecarUrl } from "../engine/renew-url.ts";
import { sidecarDiffersFrom } from "../engine/same-file.ts";
import { RemoteChangedError } from "../errors.ts";
import type { CommandContext } from "./command-context.ts";
import type { DownloadRecord, RecordPatch } from "./download-record.ts";
import type { DownloadView } from "./manager-events.ts";
import { runsElsewhere, stopElsewhere } from "./remote-stop.ts";
import { headersAfterUpdate, sameOrigin } from "./secret-headers.ts";

/** Fields Update may change. */
export type UpdatableField = "speedLimit" | "connections" | "priority" | "position" | "url" | "headers";

/**
 * Changes settings other than the position (checked by the caller). A speed limit applies at once; a
 * running download takes connections and headers at its next start. A new url stops a running download
 * (here or on its node) and queues it again, its sidecar pointed at the new URL if that serves the same
 * file, else discarded when `restart` is asked, else a RemoteChangedError. `held` keeps the download out of
 * planning until the new URL is stored. Undefined when the id is unknown.
 */
export async function updateSettings(
  parts: CommandContext,
  held: Set<number>,
  id: number,
  patch: Omit<Pick<RecordPatch, UpdatableField>, "position">,
  options: { readonly restart?: boolean },
): Promise<DownloadView | undefined> {
  const before = await parts.store.get(id);
  if (before === undefined) return undefined;
  const renewing = patch.url !== undefined && patch.url !== before.url;
  // Held out of planning until the new URL is stored (or refused): it must not start again meanwhile.
  if (renewing) held.add(id);
  try {
    // Stopped here first (a start in flight is waited for): a running download writes its first state only
    // at its first periodic checkpoint, and stopping writes it, so the check below sees the bytes it holds.
    // A refused Update costs the download a restart from that state, never its bytes.
    if (renewing) await stopLocalJob(parts, id);
    // A new URL must serve the bytes already fetched (the refresh's same-file check), unless told to restart.
    const restart = renewing && (await differsFromSidecar(parts, before, patch.url ?? "", options.restart));
    return await apply(parts, id, patch, before, renewing, restart);
  } finally {
    held.delete(id);
    parts.schedule();
  }
}

async function apply(
  parts: CommandContext,
  id: number,
  patch: Omit<Pick<RecordPatch, UpdatableField>, "position">,
  before: DownloadRecord,
  renewing: boolean,
  restart: boolean,
): Promise<DownloadView | undefined> {
  // Another node running it pauses it first (through the store); it goes back to the queue below.
  const stoppedElsewhere = renewing && runsElsewhere(before, parts.node);
  if (stoppedElsewhere) await stopElsewhere(parts, id);
  const record = (await parts.store.get(id)) ?? before;
  // Credentials were given for the old origin: they follow the URL only if the same Update gives them.
  const headers = headersAfterUpdate(
    record.headers,
    patch.headers,
    patch.url === undefined || sameOrigin(record.url, patch.url),
  );
  const change = patch.headers === undefined && headers === record.headers ? patch : { ...patch, headers };
  if (renewing && record.path !== undefined && patch.url !== undefined) {
    // The bytes already fetched stay: the next run continues them from the new URL if it serves the same
    // file (checked against the sidecar's size and validator), else it fails as "remote changed".
    if (restart) await rm(sidecarOf(record.path), { recursive: true, force: true });
    else await renewSidecarUrl(sidecarOf(record.path), patch.url);
  }
  // A fresh URL for a download waiting to retry (an expired link) is worth trying now.
  const retryNow =
    renewing && (record.state === "retrying" || (stoppedElsewhere && record.state === "paused"));
  const event = await parts.change(
    id,
    retryNow ? { ...change, state: "queued", nextTryAt: undefined, attempts: 0 } : change,
  );
  const job = parts.jobs.get(id);
  if (job !== undefined && patch.speedLimit !== undefined) {
    job.bucket.setRate(patch.speedLimit, parts.ctx.monotonic());
  }
  return event === undefined ? undefined : parts.view(event.record);
}

/** Stops the download's job on this node, if any (a start in flight is waited for); it goes back to the queue. */
async function stopLocalJob(parts: CommandContext, id: number): Promise<void> {
  const job = await parts.jobs.settled(id);
  if (job === undefined) return;
  job.controller.stop({ kind: "requeue" }, "manager");
  await job.done;
}

/**
 * Whether the bytes of `record` must be discarded for `url`: false when `url` serves the same file (or
 * nothing is stored); true when it does not and `restart` was asked; a RemoteChangedError otherwise.
 */
async function differsFromSidecar(
  parts: CommandContext,
  record: DownloadRecord,
  url: string,
  restart = false,
): Promise<boolean> {
  if (record.path === undefined) return false;
  const why = await sidecarDiffersFrom(parts.ctx, sidecarOf(record.path), url, {
    headers: record.headers,
    credentialOrigin: new URL(record.url).origin,
    headTimeoutMs: REQUEST_DEFAULTS.stallTimeoutMs,
    signal: AbortSignal.timeout(REQUEST_DEFAULTS.stallTimeoutMs),
  });
  if (why === undefined) return false;
  if (restart) return true;
  throw new RemoteChangedError(
    `url: ${url} serves another file than download ${record.id} holds (${why}); update with restart to start over`,
    { url, file: record.path, hint: "dlm update ID --url URL --restart" },
  );
}
