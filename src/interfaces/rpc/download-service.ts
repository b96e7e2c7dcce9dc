import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { parseMetalink } from "../../engine/metalink.ts";
import { chooseMetalinkFile, type MetalinkDownload, metalinkDownload } from "../../engine/metalink-choice.ts";
import { assertFetchableUrl } from "../../engine/url-scheme.ts";
import { UsageError } from "../../errors.ts";
import { type AddRequest, type DownloadSelector, DownloadService } from "../../gen/dlm/v1/download_pb.ts";
import { SUMS_PREFIX } from "../../manager/checksum-option.ts";
import type { QueueState, RecordPatch } from "../../manager/download-record.ts";
import type { Manager, UpdatableField } from "../../manager/manager.ts";
import type { RecordFilter } from "../../manager/store.ts";
import { unredactHeaders } from "../shared/credential-headers.ts";
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
 * A URL a download may fetch: http or https only (engine/url-scheme.ts, the one rule), checked here as well
 * as where requests are made, so a bad URL is refused before anything is stored.
 */
function fetchableUrl(value: string): string {
  assertFetchableUrl(value, "url");
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

/**
 * Add's `checksum` ("ALGO:HEX" or "auto") and `checksum_file` (a sums list's URL) as the one stored text
 * (see manager/checksum-option.ts, which checks it); both at once is refused.
 */
function checksumOfAdd(checksum: string, checksumFile: string): string | undefined {
  if (checksumFile === "") return checksum === "" ? undefined : checksum;
  if (checksum !== "") {
    throw new ConnectError(
      "checksum_file: give either checksum or checksum_file, not both",
      Code.InvalidArgument,
    );
  }
  return `${SUMS_PREFIX}${checksumFile}`;
}

/**
 * The download an Add's `metalink` document describes (parsed here: the daemon never reads a path or fetches
 * a URL a client names), or undefined without one. A Metalink with a url too is refused.
 */
function metalinkOfAdd(request: AddRequest): MetalinkDownload | undefined {
  if (request.metalink === "") {
    if (request.metalinkFile !== "") throw new UsageError("metalink_file: applies only with metalink");
    return undefined;
  }
  if (request.url !== "") throw new UsageError("metalink: give a url or a Metalink, not both");
  const files = parseMetalink(request.metalink, "metalink");
  const file = chooseMetalinkFile(
    { files, where: "metalink", origin: undefined },
    request.metalinkFile === "" ? undefined : request.metalinkFile,
  );
  return metalinkDownload(file);
}

/** Registers `dlm.v1.DownloadService` over `manager` on a Connect router. */
export function downloadRoutes(manager: Manager): (router: ConnectRouter) => void {
  return (router) => {
    router.service(DownloadService, {
      async add(request) {
        const described = metalinkOfAdd(request);
        const { record, created } = await manager.add({
          url: fetchableUrl(described?.url ?? request.url),
          output: request.output === "" ? described?.output : request.output,
          directory: request.directory,
          headers: request.headers.map((h) => [h.name, h.value] as const),
          mirrors: [...request.mirrors.map(fetchableUrl), ...(described?.mirrors ?? [])],
          checksum:
            request.checksum === "" && request.checksumFile === "" && described?.checksum !== undefined
              ? `${described.checksum.algorithm}:${described.checksum.hex}`
              : checksumOfAdd(request.checksum, request.checksumFile),
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
          // A credential sent back as it was shown ("set") keeps its stored value.
          else out.headers = unredactHeaders((given?.headers ?? []).map((h) => [h.name, h.value] as const));
        }
        const view = await manager.update(idOf(request.id), patch, { restart: request.restart });
        if (view === undefined) throw new ConnectError(`download ${request.id} not found`, Code.NotFound);
        return { download: toDownload(view) };
      },
      async move(request) {
        if (request.position < 1n || request.position > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new ConnectError(
            `position: expected 1..${Number.MAX_SAFE_INTEGER}, got ${request.position}`,
            Code.InvalidArgument,
          );
        }
        const view = await manager.move(idOf(request.id), Number(request.position));
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
