import type { QueueState } from "../../manager/download-record.ts";
import { Aria2Fault } from "./aria2-fault.ts";
import type { Aria2Session } from "./aria2-session.ts";
import { ACTIVE_STATES, STOPPED_STATES, WAITING_STATES } from "./aria2-states.ts";
import { optionsOf } from "./options.ts";
import { intParam, type Params, stringsParam } from "./params.ts";
import { filesOf, pick, type StatusSource, statusOf, statusStruct, urisOf } from "./status.ts";

/** The aria2 protocol version dlm answers as (getVersion's `version`). */
export const ARIA2_VERSION = "1.37.0";

type Handler = (session: Aria2Session, params: Params) => Promise<unknown>;

/** aria2's paging: a negative offset counts from the end and lists backwards. */
function page<T>(items: readonly T[], offset: number, num: number): T[] {
  if (num <= 0) return [];
  if (offset >= 0) return items.slice(offset, offset + num);
  const from = items.length + offset;
  if (from < 0) return [];
  return items.slice(Math.max(0, from - num + 1), from + 1).reverse();
}

function structs(
  session: Aria2Session,
  sources: readonly StatusSource[],
  keys: readonly string[],
): unknown[] {
  return sources.map((source) => pick(statusStruct(source, session.deps.baseDir), keys));
}

async function stopped(session: Aria2Session): Promise<StatusSource[]> {
  const rows = (await session.manager.list({ states: [...STOPPED_STATES] })).map((view) =>
    session.sourceOf(view),
  );
  // aria2 lists stopped downloads in the order they stopped.
  return [...rows, ...session.removedResults()].sort((a, b) => a.view.updatedAt - b.view.updatedAt);
}

/** The read-only methods: status, lists, options, counters, version. */
export const READ_METHODS: Readonly<Record<string, Handler>> = {
  async "aria2.tellStatus"(session, params) {
    const found = await session.find(params[0]);
    return pick(statusStruct(found, session.deps.baseDir), stringsParam(params, 1, "keys"));
  },
  /** The URL and its mirrors; aria2 keeps no URI data for a stopped download and says so. */
  async "aria2.getUris"(session, params) {
    const found = await session.find(params[0]);
    const status = found.removed ? "removed" : statusOf(found.view.state);
    if (status === "complete" || status === "error" || status === "removed") {
      throw new Aria2Fault(`No URI data is available for GID#${found.gid}`);
    }
    return urisOf(found.uris, status);
  },
  async "aria2.getFiles"(session, params) {
    return filesOf(await session.find(params[0]));
  },
  async "aria2.getServers"(session, params) {
    const found = await session.find(params[0]);
    if (found.removed || statusOf(found.view.state) !== "active") {
      throw new Aria2Fault(`No active download for GID#${found.gid}`);
    }
    const speed = String(Math.round(found.progress?.bytesPerSecond ?? found.view.bytesPerSecond));
    const uri = found.uris[0] ?? found.view.url;
    return [{ index: "1", servers: [{ uri, currentUri: uri, downloadSpeed: speed }] }];
  },
  async "aria2.tellActive"(session, params) {
    const views = await session.manager.list({ states: [...ACTIVE_STATES] });
    return structs(
      session,
      views.map((view) => session.sourceOf(view)),
      stringsParam(params, 0, "keys"),
    );
  },
  async "aria2.tellWaiting"(session, params) {
    const views = await session.manager.list({ states: [...WAITING_STATES] });
    const picked = page(views, intParam(params, 0, "offset"), intParam(params, 1, "num"));
    return structs(
      session,
      picked.map((view) => session.sourceOf(view)),
      stringsParam(params, 2, "keys"),
    );
  },
  async "aria2.tellStopped"(session, params) {
    const picked = page(await stopped(session), intParam(params, 0, "offset"), intParam(params, 1, "num"));
    return structs(session, picked, stringsParam(params, 2, "keys"));
  },
  async "aria2.getOption"(session, params) {
    const { view } = await session.find(params[0]);
    return optionsOf({ ...view, defaultConnections: session.defaultConnections }, session.deps.baseDir);
  },
  async "aria2.getGlobalOption"(session) {
    const stats = await session.manager.stats();
    const connections = String(session.defaultConnections);
    const options: Record<string, string> = {
      dir: session.deps.baseDir,
      split: connections,
      "max-connection-per-server": connections,
      "max-download-limit": "0",
      "max-concurrent-downloads": String(stats.maxActive),
      "max-overall-download-limit": String(stats.globalLimit),
      // What dlm sends when a download sets none: Bun's fetch's own.
      "user-agent": navigator.userAgent,
    };
    // What changeGlobalOption set, as aria2 shows it back (max-concurrent-downloads is never kept: ignored).
    for (const [name, value] of session.globalOptions) options[name] = value;
    return options;
  },
  async "aria2.getGlobalStat"(session) {
    const stats = await session.manager.stats();
    const countOf = (states: readonly QueueState[]) =>
      states.reduce((sum, state) => sum + (stats.counts.get(state) ?? 0), 0);
    const numStopped = countOf(STOPPED_STATES) + session.removedResults().length;
    return {
      downloadSpeed: String(Math.round(stats.bytesPerSecond)),
      uploadSpeed: "0",
      numActive: String(countOf(ACTIVE_STATES)),
      numWaiting: String(countOf(WAITING_STATES)),
      numStopped: String(numStopped),
      numStoppedTotal: String(numStopped),
    };
  },
  /** aria2 answers an HTTP download's peers with an empty list (BitTorrent has peers, HTTP none). */
  async "aria2.getPeers"(session, params) {
    await session.find(params[0]);
    return [];
  },
  async "aria2.getVersion"(session) {
    return {
      version: ARIA2_VERSION,
      enabledFeatures: ["HTTPS", "Message Digest"],
      dlm: session.deps.dlmVersion,
    };
  },
  async "aria2.getSessionInfo"(session) {
    return { sessionId: session.sessionId };
  },
};
