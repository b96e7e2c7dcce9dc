import { logger } from "../log.ts";
import {
  ACTIVE_STATES,
  type DownloadRecord,
  type EventKind,
  type FailureInfo,
  type NewDownload,
  QUEUE_STATES,
  type QueueState,
  type StoredEvent,
} from "./download-record.ts";
import type { NodeClaim } from "./node-claim.ts";
import { hideSecrets } from "./secret-headers.ts";
import type { EventColumns } from "./sql-dialect.ts";
import type { Heartbeat } from "./store.ts";

/** A row as Bun's SQL client returns it (SQLite or PostgreSQL; PostgreSQL's int8 arrives as a string). */
export type Row = Record<string, unknown>;

/** The first row of a result that must have one. */
export function mustRow(rows: Row[]): Row {
  const row = rows[0];
  if (row === undefined) throw new Error("the database returned no row");
  return row;
}

/** A stored state name, checked. */
export function asState(value: unknown): QueueState {
  const state = QUEUE_STATES.find((s) => s === value);
  if (state === undefined) throw new Error(`database: unknown download state ${JSON.stringify(value)}`);
  return state;
}

function optionalText(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function optionalNumber(row: Row, column: string): number | undefined {
  const value = row[column];
  return value === null || value === undefined ? undefined : bounded(row, column);
}

/**
 * A numeric column as a number every layer can carry (≤ 2^53−1, see input-bounds.ts). A row written before
 * the bounds were checked at the API (e.g. position 2^64) is clamped with a warning instead of making every
 * List, Get and WatchAll fail to encode it.
 */
function bounded(row: Row, column: string): number {
  const value = Number(row[column]);
  if (Number.isSafeInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) return value;
  const clamped = Number.isNaN(value)
    ? 0
    : Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(value)));
  logger("control").warn("download {id}: stored {column} {value} is out of range; read as {clamped}", {
    id: row["id"],
    column,
    value: String(row[column]),
    clamped,
  });
  return clamped;
}

/** A `downloads` row as a record; JSON columns are kept as text by both SQL dialects. */
export function toRecord(row: Row): DownloadRecord {
  const failure = optionalText(row["failure"]);
  return {
    id: Number(row["id"]),
    url: String(row["url"]),
    output: optionalText(row["output"]),
    directory: String(row["directory"] ?? ""),
    path: optionalText(row["path"]),
    headers: JSON.parse(String(row["headers"])) as [string, string][],
    mirrors: JSON.parse(String(row["mirrors"] ?? "[]")) as string[],
    checksum: optionalText(row["checksum"]),
    connections: bounded(row, "connections"),
    speedLimit: bounded(row, "speed_limit"),
    priority: bounded(row, "priority"),
    position: bounded(row, "position"),
    labels: JSON.parse(String(row["labels"])) as string[],
    state: asState(row["state"]),
    failure: failure === undefined ? undefined : (JSON.parse(failure) as FailureInfo),
    nextTryAt: optionalNumber(row, "next_try_at"),
    attempts: bounded(row, "attempts"),
    bytesDownloaded: bounded(row, "bytes_downloaded"),
    totalBytes: optionalNumber(row, "total_bytes"),
    sha256: optionalText(row["sha256"]),
    requestId: optionalText(row["request_id"]),
    node: optionalText(row["node"]),
    createdAt: Number(row["created_at"]),
    updatedAt: Number(row["updated_at"]),
  };
}

/** Numeric fields of a record that reach the wire as uint64/int32. */
const NUMBER_FIELDS = [
  "connections",
  "speedLimit",
  "priority",
  "position",
  "attempts",
  "bytesDownloaded",
] as const;

/** An `events` row as a stored event. */
export function toEvent(row: Row): StoredEvent {
  const kind = String(row["kind"]);
  if (kind !== "added" && kind !== "changed" && kind !== "removed") {
    throw new Error(`database: unknown event kind ${JSON.stringify(kind)}`);
  }
  const record = JSON.parse(String(row["payload"])) as DownloadRecord;
  // Numbers stored before the API bounded them are clamped as a row's are, so a replay never fails to encode.
  const numbers: Row = { id: record.id };
  for (const field of NUMBER_FIELDS) numbers[field] = record[field] ?? 0;
  const bounds = Object.fromEntries(NUMBER_FIELDS.map((field) => [field, bounded(numbers, field)]));
  return {
    seq: Number(row["seq"]),
    downloadId: Number(row["download_id"]),
    kind,
    // Events stored before nodes existed have no node field.
    record: { ...record, ...bounds, node: record.node ?? undefined, mirrors: record.mirrors ?? [] },
  };
}

/**
 * Column values of a record for an INSERT or an UPDATE (JSON as text, absent as NULL): with toRecord, the one
 * place naming the columns of `downloads` (id is the database's; lease_until and requested are the store's).
 */
export function recordColumns(record: Omit<DownloadRecord, "id">) {
  return {
    request_id: record.requestId ?? null,
    url: record.url,
    output: record.output ?? null,
    directory: record.directory,
    path: record.path ?? null,
    headers: JSON.stringify(record.headers),
    mirrors: JSON.stringify(record.mirrors),
    checksum: record.checksum ?? null,
    connections: record.connections,
    speed_limit: record.speedLimit,
    priority: record.priority,
    position: record.position,
    labels: JSON.stringify(record.labels),
    state: record.state,
    failure: record.failure === undefined ? null : JSON.stringify(record.failure),
    next_try_at: record.nextTryAt ?? null,
    attempts: record.attempts,
    bytes_downloaded: record.bytesDownloaded,
    total_bytes: record.totalBytes ?? null,
    sha256: record.sha256 ?? null,
    node: record.node ?? null,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

/** A new download's record at `position` before the database gives it an id. */
export function freshRecord(input: NewDownload, position: number, now: number): Omit<DownloadRecord, "id"> {
  return {
    ...input,
    path: undefined,
    position,
    failure: undefined,
    nextTryAt: undefined,
    attempts: 0,
    bytesDownloaded: 0,
    totalBytes: undefined,
    sha256: undefined,
    node: undefined,
    createdAt: now,
    updatedAt: now,
  };
}

/** The `events` row of a change: what an event stores of a record is eventPayload's. */
export function eventColumns(kind: EventKind, record: DownloadRecord, now: number): EventColumns {
  return { download_id: record.id, kind, payload: eventPayload(record), at: now };
}

/** A row leaving running/verifying releases its lease (node cleared); an active row keeps its node. */
export function withLeaseRule(record: DownloadRecord): DownloadRecord {
  return ACTIVE_STATES.has(record.state) ? record : { ...record, node: undefined };
}

/** Heartbeat answer from the rows (id, requested) a node still holds. */
export function heartbeatOf(rows: Row[]): Heartbeat {
  return {
    owned: new Set(rows.map((row) => Number(row["id"]))),
    pauseRequested: new Set(
      rows.filter((row) => row["requested"] === "pause").map((row) => Number(row["id"])),
    ),
  };
}

/**
 * What an event stores of a record: the record as clients may see it, credential values removed. Events are
 * replayed to any watcher and outlive the download, so they never hold a secret.
 */
export function eventPayload(record: DownloadRecord): string {
  return JSON.stringify({ ...record, headers: hideSecrets(record.headers) });
}

/** A `nodes` row as the claim it stores. */
export function nodeClaimOf(row: Row): NodeClaim {
  return {
    node: String(row["name"]),
    token: String(row["token"]),
    host: String(row["host"]),
    pid: Number(row["pid"]),
  };
}
