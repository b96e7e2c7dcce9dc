import { t } from "elysia";
import type { ProgressSnapshot } from "../../progress/snapshot.ts";
import type { CommandBody, ErrorBody, StatusBody } from "../shared/api-bodies.ts";

const downloadState = t.UnionEnum([
  "probing",
  "running",
  "paused",
  "verifying",
  "finished",
  "failed",
  "cancelled",
]);

/** Elysia schema of one segment in `GET /status`. Offsets are inclusive bytes, as in HTTP Range. */
export const segmentSchema = t.Object({
  id: t.Integer(),
  start: t.Integer({ minimum: 0 }),
  end: t.Integer(),
  done: t.Integer({ minimum: 0 }),
  worker: t.Optional(t.Integer()),
  state: t.UnionEnum(["pending", "active", "retrying", "done", "stalled"]),
  bytesPerSecond: t.Number(),
  slow: t.Boolean(),
  retries: t.Integer({ minimum: 0 }),
});

/**
 * Elysia schema of `GET /status`: the progress snapshot, with absent values (unknown size, no ETA, no
 * worker) left out rather than null.
 */
export const statusSchema = t.Object({
  download: t.String(),
  url: t.String(),
  state: downloadState,
  bytesDownloaded: t.Integer({ minimum: 0 }),
  totalBytes: t.Optional(t.Integer({ minimum: 0 })),
  percent: t.Optional(t.Number({ minimum: 0, maximum: 100 })),
  bytesPerSecond: t.Number({ minimum: 0 }),
  etaSeconds: t.Optional(t.Number({ minimum: 0 })),
  activeConnections: t.Integer({ minimum: 0 }),
  segments: t.Array(segmentSchema),
  elapsedMs: t.Integer({ minimum: 0 }),
  error: t.Optional(t.Object({ code: t.String(), message: t.String() })),
});

/** Answer of `POST /pause`, `/resume` and `/cancel`: the state the command led to. */
export const commandSchema = t.Object({
  state: downloadState,
  /** False when the command was a no-op (pause while paused, resume while running). */
  changed: t.Boolean(),
});

/** Every error body: a stable code (gRPC/Connect vocabulary) and a one-line message. */
export const errorSchema = t.Object({ code: t.String(), message: t.String() });

/** True only when A and B are the same type (each assignable to the other). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The schemas and the plain types clients read (shared/api-bodies.ts) must describe the same JSON.
const schemasMatchBodies: [
  Same<typeof statusSchema.static, StatusBody>,
  Same<typeof commandSchema.static, CommandBody>,
  Same<typeof errorSchema.static, ErrorBody>,
] = [true, true, true];
void schemasMatchBodies;

/** The `GET /status` body of a snapshot (keys with undefined values dropped). */
export function statusBody(s: ProgressSnapshot): typeof statusSchema.static {
  return {
    download: s.download,
    url: s.url,
    state: s.state,
    bytesDownloaded: s.bytesDownloaded,
    ...(s.totalBytes === undefined ? {} : { totalBytes: s.totalBytes }),
    ...(s.percent === undefined ? {} : { percent: s.percent }),
    bytesPerSecond: s.bytesPerSecond,
    ...(s.etaSeconds === undefined ? {} : { etaSeconds: s.etaSeconds }),
    activeConnections: s.activeConnections,
    segments: s.segments.map((g) => ({
      id: g.id,
      start: g.start,
      end: g.end,
      done: g.done,
      ...(g.worker === undefined ? {} : { worker: g.worker }),
      state: g.state,
      bytesPerSecond: g.bytesPerSecond,
      slow: g.slow,
      retries: g.retries,
    })),
    elapsedMs: s.elapsedMs,
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}
