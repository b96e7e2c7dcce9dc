import { existsSync } from "node:fs";
import { readStateFile, statePath, writeStateFile } from "./state-file.ts";

/**
 * Points the unfinished download kept in `sidecar` at a new URL for the same file (a signed link that
 * expired, a mirror): the next run probes `url` and continues from the bytes on disk only if the server's
 * file still matches what the state recorded (size, ETag or Last-Modified; see describeChange), else it
 * stops with RemoteChangedError and nothing is mixed. Returns false when the sidecar holds no state (then
 * there is nothing to continue and the next run simply starts with `url`).
 */
export async function renewSidecarUrl(sidecar: string, url: string): Promise<boolean> {
  if (!existsSync(statePath(sidecar))) return false;
  const state = await readStateFile(sidecar);
  if (state.url === url) return true;
  await writeStateFile(sidecar, { ...state, url, updatedAt: new Date().toISOString() });
  return true;
}
