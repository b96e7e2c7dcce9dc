import type { RecordPatch } from "../../manager/download-record.ts";
import type { UpdatableField } from "../../manager/manager.ts";
import { addMetalink } from "./add-metalink.ts";
import { Aria2Fault } from "./aria2-fault.ts";
import type { Aria2Session } from "./aria2-session.ts";
import { STOPPED_STATES } from "./aria2-states.ts";
import { downloadInput } from "./download-input.ts";
import { gidOf } from "./gid.ts";
import { MAPPED_GLOBAL_OPTIONS, mapOptions, parseSize, readOptions } from "./options.ts";
import { intParam, type Params, stringParam, stringsParam } from "./params.ts";
import { moveInQueue, type PositionMode } from "./queue-move.ts";
import { statusOf } from "./status.ts";

type Handler = (session: Aria2Session, params: Params) => Promise<unknown>;

/** Logs the options dlm accepts without acting on them, as aria2 does with options it does not know. */
function logIgnored(session: Aria2Session, names: readonly string[]): void {
  if (names.length > 0) session.deps.log.info("aria2: options ignored: {names}", { names });
}

/** addUri: several URIs are mirrors of one file (the first is the download's URL). */
async function addUri(session: Aria2Session, params: Params): Promise<string> {
  const uris = stringsParam(params, 0, "uris");
  const [url, ...mirrors] = uris;
  if (url === undefined) throw new Aria2Fault("No URI to download.");
  for (const uri of uris) {
    const parsed = URL.parse(uri);
    if (parsed === null || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new Aria2Fault(
        `URI ${JSON.stringify(uri)} is not supported: dlm downloads http:// and https:// only`,
      );
    }
  }
  const mapped = mapOptions(readOptions(params[1]), session.deps.baseDir, uris.length);
  logIgnored(session, mapped.ignored);
  const input = downloadInput(url, mapped);
  const { record } = await session.manager.add(session.mirrors.withMirrors(input, mirrors));
  if (params[2] !== undefined) {
    await moveInQueue(session.manager, record.id, intParam(params, 2, "position"), "POS_SET");
  }
  return gidOf(record.id);
}

/** remove and forceRemove: the download leaves the queue (files kept, as aria2 keeps them). */
async function remove(session: Aria2Session, params: Params): Promise<string> {
  const found = await session.find(params[0]);
  if (found.removed || STOPPED_STATES.includes(found.view.state)) {
    throw new Aria2Fault(`Active Download not found for GID#${found.gid}`);
  }
  await session.manager.remove([found.view.id], false);
  return found.gid;
}

async function pause(session: Aria2Session, params: Params): Promise<string> {
  const found = await session.find(params[0]);
  const status = found.removed ? "removed" : statusOf(found.view.state);
  if (status !== "active" && status !== "waiting")
    throw new Aria2Fault(`GID#${found.gid} cannot be paused now`);
  await session.manager.pause([found.view.id]);
  return found.gid;
}

async function unpause(session: Aria2Session, params: Params): Promise<string> {
  const found = await session.find(params[0]);
  if (found.removed || found.view.state !== "paused") {
    throw new Aria2Fault(`GID#${found.gid} cannot be unpaused now`);
  }
  await session.manager.resume([found.view.id]);
  return found.gid;
}

async function pauseAll(session: Aria2Session): Promise<string> {
  const ids = await session.manager.select([], true, { states: ["queued", "retrying", "running"] });
  await session.manager.pause(ids);
  return "OK";
}

async function unpauseAll(session: Aria2Session): Promise<string> {
  const ids = await session.manager.select([], true, { states: ["paused"] });
  await session.manager.resume(ids);
  return "OK";
}

async function changePosition(session: Aria2Session, params: Params): Promise<number> {
  const found = await session.find(params[0]);
  const pos = intParam(params, 1, "pos");
  const how = stringParam(params, 2, "how");
  if (how !== "POS_SET" && how !== "POS_CUR" && how !== "POS_END") {
    throw new Aria2Fault(
      `Illegal argument: how must be POS_SET, POS_CUR or POS_END, got ${JSON.stringify(how)}`,
    );
  }
  const index = found.removed
    ? undefined
    : await moveInQueue(session.manager, found.view.id, pos, how as PositionMode);
  if (index === undefined) throw new Aria2Fault(`GID#${found.gid} not found in the waiting queue.`);
  return index;
}

/** changeUri: the first URI is the download's URL (a new one is taken at the next start), the rest mirrors. */
async function changeUri(session: Aria2Session, params: Params): Promise<number[]> {
  const found = await session.find(params[0]);
  if (intParam(params, 1, "fileIndex") !== 1) throw new Aria2Fault("fileIndex is out of range");
  const deleting = stringsParam(params, 2, "delUris");
  const adding = stringsParam(params, 3, "addUris");
  const uris = [...found.uris];
  let deleted = 0;
  for (const uri of deleting) {
    const at = uris.indexOf(uri);
    if (at >= 0) {
      uris.splice(at, 1);
      deleted++;
    }
  }
  for (const uri of adding) {
    const parsed = URL.parse(uri);
    if (parsed === null || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new Aria2Fault(
        `URI ${JSON.stringify(uri)} is not supported: dlm downloads http:// and https:// only`,
      );
    }
  }
  const at =
    params[4] === undefined
      ? uris.length
      : Math.max(0, Math.min(uris.length, intParam(params, 4, "position")));
  uris.splice(at, 0, ...adding);
  const [url, ...mirrors] = uris;
  if (url === undefined) throw new Aria2Fault("a download needs one URI at least");
  if (found.removed) throw new Aria2Fault(`Active Download not found for GID#${found.gid}`);
  if (url !== found.view.url) await session.manager.update(found.view.id, { url });
  session.mirrors.setMirrors(found.view.id, mirrors);
  return [deleted, adding.length];
}

/** changeOption: speed limit at once; connections and headers from the next start (as the manager does). */
async function changeOption(session: Aria2Session, params: Params): Promise<string> {
  const found = await session.find(params[0]);
  if (found.removed) throw new Aria2Fault(`Active Download not found for GID#${found.gid}`);
  const options = readOptions(params[1]);
  const mapped = mapOptions(options, session.deps.baseDir, found.uris.length);
  const fixed = ["dir", "out", "checksum", "pause"].filter((name) => options.has(name));
  logIgnored(session, [...mapped.ignored, ...fixed]);
  const patch: Pick<RecordPatch, UpdatableField> = {
    ...(mapped.connections === undefined ? {} : { connections: mapped.connections }),
    ...(mapped.speedLimit === undefined ? {} : { speedLimit: mapped.speedLimit }),
    ...(mapped.headers === undefined ? {} : { headers: mapped.headers }),
  };
  if (Object.keys(patch).length > 0) await session.manager.update(found.view.id, patch);
  return "OK";
}

async function changeGlobalOption(session: Aria2Session, params: Params): Promise<string> {
  const options = readOptions(params[0]);
  const ignored: string[] = [];
  for (const [name, value] of options) {
    const text = typeof value === "string" ? value : value.join("\n");
    if (name === "max-overall-download-limit") {
      session.manager.setGlobalLimit(parseSize(name, text));
    } else if (!MAPPED_GLOBAL_OPTIONS.has(name)) {
      ignored.push(name);
    } else {
      // max-concurrent-downloads: the manager takes --max-active at start only.
      ignored.push(name);
      continue;
    }
    session.globalOptions.set(name, text);
  }
  logIgnored(session, ignored);
  return "OK";
}

async function purgeDownloadResult(session: Aria2Session): Promise<string> {
  const ids = await session.manager.select([], true, { states: [...STOPPED_STATES] });
  await session.purgeRows(ids);
  session.forgetRemoved();
  return "OK";
}

async function removeDownloadResult(session: Aria2Session, params: Params): Promise<string> {
  const found = await session.find(params[0]);
  if (found.removed) session.forgetRemoved(found.view.id);
  else if (STOPPED_STATES.includes(found.view.state)) await session.purgeRows([found.view.id]);
  else throw new Aria2Fault(`Could not remove download result of GID#${found.gid}`);
  return "OK";
}

async function shutdown(session: Aria2Session): Promise<string> {
  if (!session.deps.allowShutdown) {
    throw new Aria2Fault("shutdown is refused: start dlm serve with --rpc-allow-shutdown to allow it");
  }
  // After the answer is on its way.
  setTimeout(session.deps.onShutdown, 50);
  return "OK";
}

async function unsupported(name: string): Promise<never> {
  throw new Aria2Fault(`${name} is not supported: dlm downloads over HTTP and HTTPS only (no BitTorrent)`);
}

/** The methods that change the queue. */
export const CONTROL_METHODS: Readonly<Record<string, Handler>> = {
  "aria2.addUri": addUri,
  "aria2.addMetalink": addMetalink,
  "aria2.addTorrent": () => unsupported("addTorrent"),
  "aria2.remove": remove,
  "aria2.forceRemove": remove,
  "aria2.pause": pause,
  "aria2.forcePause": pause,
  "aria2.pauseAll": pauseAll,
  "aria2.forcePauseAll": pauseAll,
  "aria2.unpause": unpause,
  "aria2.unpauseAll": unpauseAll,
  "aria2.changePosition": changePosition,
  "aria2.changeUri": changeUri,
  "aria2.changeOption": changeOption,
  "aria2.changeGlobalOption": changeGlobalOption,
  "aria2.purgeDownloadResult": purgeDownloadResult,
  "aria2.removeDownloadResult": removeDownloadResult,
  // The queue is stored as it changes: there is no session file to write.
  "aria2.saveSession": async () => "OK",
  "aria2.shutdown": shutdown,
  "aria2.forceShutdown": shutdown,
};
