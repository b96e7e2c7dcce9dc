import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { type DownloadSelector, DownloadService } from "../../gen/dlm/v1/download_pb.ts";
import type { QueueState, RecordPatch } from "../../manager/download-record.ts";
import type { Manager, UpdatableField } from "../../manager/manager.ts";
import type { RecordFilter } from "../../manager/store.ts";
import { queueStateOf, toDownload, toStats } from "./download-message.ts";
import { watchAll } from "./watch-all.ts";
import { watchDownload } from "./watch-download.ts";

/** Largest List page. */
const MAX_PAGE = 1000;

/** Update mask paths (as in the proto) and the record field each one sets. */
const MASK_FIELDS: Readonly<Record<string, UpdatableField>> = {
  speed_limit: "speedLimit",
  connections: "connections",
  priority: "priority",
  position: "position",
  url: "url",
  headers: "headers",
};

function idOf(id: bigint): number {
  if (id <= 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConnectError(`id: expected a download id, got ${id}`, Code.InvalidArgument);
  }
  return Number(id);
}

function statesOf(states: readonly number[]): QueueState[] {
  return states.flatMap((state) => {
    const name = queueStateOf(state);
    return name === undefined ? [] : [name];
  });
}

/** A uint64 field as a number: above 2^53−1 it could not be stored exactly, so it is refused. */
function safeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConnectError(
      `${field}: expected at most ${Number.MAX_SAFE_INTEGER}, got ${value}`,
      Code.InvalidArgument,
    );
  }
  return Number(value);
}

/**
 * A URL a download may fetch: http or https only, whatever the manager checks after (Bun's fetch reads
 * file: and data: URLs, which would copy local files into the download directory).
 */
function fetchableUrl(value: string): string {
  const url = URL.parse(value);
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new ConnectError(
      `url: expected an http:// or https:// URL, got ${JSON.stringify(value)}`,
      Code.InvalidArgument,
    );
  }
  return value;
}

function connectionsOf(value: number): number {
  if (value > 64) throw new ConnectError(`connections: expected 0..64, got ${value}`, Code.InvalidArgument);
  return value;
}

async function selected(manager: Manager, selector: DownloadSelector | undefined): Promise<number[]> {
  if (selector === undefined || (!selector.all && selector.ids.length === 0)) {
    throw new ConnectError("selector: name ids, or set all", Code.InvalidArgument);
  }
  const filter: RecordFilter = { states: statesOf(selector.states), labels: selector.labels };
  return manager.select(selector.ids.map(idOf), selector.all, filter);
}

/** Registers `dlm.v1.DownloadService` over `manager` on a Connect router. */
export function downloadRoutes(manager: Manager): (router: ConnectRouter) => void {
  return (router) => {
    router.service(DownloadService, {
      async add(request) {
        const { record, created } = await manager.add({
          url: fetchableUrl(request.url),
          output: request.output === "" ? undefined : request.output,
          directory: request.directory,
          headers: request.headers.map((h) => [h.name, h.value] as const),
          checksum: request.checksum === "" ? undefined : request.checksum,
          connections: connectionsOf(request.connections),
          speedLimit: safeNumber(request.speedLimit, "speed_limit"),
          priority: request.priority,
          labels: request.labels,
          state: request.startPaused ? "paused" : "queued",
          requestId: request.requestId === "" ? undefined : request.requestId,
        });
        return { download: toDownload(record), created };
      },
      async get(request) {
        const view = await manager.get(idOf(request.id));
        if (view === undefined) throw new ConnectError(`download ${request.id} not found`, Code.NotFound);
        return { download: toDownload(view) };
      },
      async list(request) {
        const limit = request.pageSize === 0 ? MAX_PAGE : Math.min(request.pageSize, MAX_PAGE);
        const offset = request.pageToken === "" ? 0 : Number(request.pageToken);
        if (!Number.isSafeInteger(offset) || offset < 0) {
          throw new ConnectError(`page_token: not a token from this service`, Code.InvalidArgument);
        }
        const views = await manager.list({
          states: statesOf(request.states),
          labels: request.labels,
          offset,
          limit: limit + 1,
        });
        const more = views.length > limit;
        return {
          downloads: views.slice(0, limit).map((view) => toDownload(view)),
          nextPageToken: more ? String(offset + limit) : "",
        };
      },
      async update(request) {
        const paths = request.updateMask?.paths ?? [];
        if (paths.length === 0)
          throw new ConnectError("update_mask: name at least one field", Code.InvalidArgument);
        const given = request.download;
        const patch: Pick<RecordPatch, UpdatableField> = {};
        const out = patch as Record<UpdatableField, unknown>;
        for (const path of paths) {
          const field = MASK_FIELDS[path];
          if (field === undefined) {
            throw new ConnectError(
              `update_mask: cannot update ${JSON.stringify(path)}`,
              Code.InvalidArgument,
            );
          }
          if (field === "speedLimit") out.speedLimit = safeNumber(given?.speedLimit ?? 0n, "speed_limit");
          else if (field === "connections") out.connections = connectionsOf(given?.connections ?? 0);
          else if (field === "priority") out.priority = given?.priority ?? 0;
          else if (field === "position") out.position = safeNumber(given?.position ?? 0n, "position");
          else if (field === "url") out.url = fetchableUrl(given?.url ?? "");
          else out.headers = (given?.headers ?? []).map((h) => [h.name, h.value] as const);
        }
        const view = await manager.update(idOf(request.id), patch);
        if (view === undefined) throw new ConnectError(`download ${request.id} not found`, Code.NotFound);
        return { download: toDownload(view) };
      },
      async pause(request) {
        const views = await manager.pause(await selected(manager, request.selector));
        return { downloads: views.map((view) => toDownload(view)) };
      },
      async resume(request) {
        const views = await manager.resume(await selected(manager, request.selector));
        return { downloads: views.map((view) => toDownload(view)) };
      },
      async remove(request) {
        const ids = await manager.remove(await selected(manager, request.selector), request.deleteFiles);
        return { ids: ids.map(BigInt) };
      },
      async stats() {
        return toStats(await manager.stats());
      },
      async setGlobalLimit(request) {
        manager.setGlobalLimit(safeNumber(request.speedLimit, "speed_limit"));
        return { stats: toStats(await manager.stats()) };
      },
      watchAll(request, context) {
        return watchAll(manager, Number(request.sinceSeq), context.signal);
      },
      watchDownload(request, context) {
        return watchDownload(manager, idOf(request.id), context.signal);
      },
    });
  };
}
