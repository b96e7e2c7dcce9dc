// A deterministic link simulator on virtual time: N workers fetch one file through the real Scheduler, making
// the same calls in the same order as DownloadRun (next, firstByte, tick every TICK_MS with the same samples,
// the same aborts carried out, finished), over simulated connections with caps, round trips, slow slots,
// drops and stalls. A discrete-event loop: between two events every transfer moves at a constant rate, so
// the next event (a request's first byte, a segment's end, a drop, a tick...) is computed, not stepped to.
import { DEFAULT_RETRY_OPTIONS, decideRetry, type FailureKind } from "../../src/engine/retry-policy.ts";
import {
  type Decision,
  Scheduler,
  type SourceFailure,
  TICK_MS,
  type Work,
} from "../../src/engine/scheduler.ts";
import { lengthOf, remainingOf, type Segment } from "../../src/engine/segment.ts";
import type { SourceEvent } from "../../src/engine/source-table.ts";
import { afterProgress } from "../../src/engine/worker.ts";

/** A kind of link between dlm and the server. Rates in bytes/s, times in ms. */
export interface LinkShape {
  readonly name: string;
  /** Cap of one connection (the server's per-connection pacing). */
  readonly capBytesPerSec: number;
  /** Cap of all connections together, shared max-min fairly; undefined = none. */
  readonly linkCapBytesPerSec?: number;
  /** From sending a request to its first byte. */
  readonly rttMs: number;
  /** Extra cost of a request on a new connection (TCP, TLS); 0 on loopback. */
  readonly connectMs?: number;
  /**
   * Every `every`-th accepted connection (1-based: 4 → 4, 8, 12...) runs at cap / `factor`, as bench/pacer.ts
   * does: the slowness belongs to the connection, so a request on a fresh connection may land fast or slow.
   */
  readonly slowSlots?: { readonly every: number; readonly factor: number };
  /** Every `every`-th worker's connections all run at cap / `factor`: a slowness no reconnect escapes. */
  readonly slowWorkers?: { readonly every: number; readonly factor: number };
  /** Accepted connection `connection` drops to cap / `factor` from `atMs` on. */
  readonly slowdown?: { readonly connection: number; readonly atMs: number; readonly factor: number };
  /** Every `every`-th accepted connection dies after `afterBytes` of body (the worker retries). */
  readonly drops?: { readonly every: number; readonly afterBytes: number };
  /** Every `every`-th accepted connection goes silent after `afterBytes` of body, until aborted. */
  readonly stalls?: { readonly every: number; readonly afterBytes: number };
}

/**
 * One source of the file (a mirror). Its connections run at `capBytesPerSec` each (the shape's slow slots
 * and such apply on top), sharing `totalCapBytesPerSec` max-min fairly.
 */
export interface SimSource {
  readonly name: string;
  readonly capBytesPerSec: number;
  readonly totalCapBytesPerSec?: number;
  /** Its round trip; the shape's when undefined. */
  readonly rttMs?: number;
  /** Answers 503 to a connection beyond this many open ones (a mirror's limit per client). */
  readonly acceptsConnections?: number;
  /** From this time on its connections break and new requests are refused (a mirror that goes away). */
  readonly diesAtMs?: number;
  /** Serves wrong bytes: the simulator only marks what came from it (SimResult.servedBy). */
  readonly corrupts?: boolean;
  /** Told to the scheduler as the source's known connection limit (a Metalink's), if any. */
  readonly maxConnections?: number;
}

export interface SimOptions {
  readonly sizeBytes: number;
  readonly connections: number;
  readonly shape: LinkShape;
  /** dlm's --min-split (default 1 MiB, as the CLI). */
  readonly minSplitBytes?: number;
  /** dlm's --stall-timeout (default 30 s, as the CLI). */
  readonly stallTimeoutMs?: number;
  /** Seed of the retry jitter. */
  readonly seed?: number;
  /** Hash-on-arrival speed (bytes/s): SHA-256 with Bun.CryptoHasher, about 1 GB/s. */
  readonly hashBytesPerSec?: number;
  /** Mirrors: source 0 is the first; undefined = one source with the shape's cap. */
  readonly sources?: readonly SimSource[];
}

/** Bytes stored from one source, as a range of the file (for per-source and corruption checks). */
export interface ServedRange {
  readonly source: number;
  readonly start: number;
  readonly end: number;
}

/** One range request as the server saw it. */
export interface SimRequest {
  readonly atMs: number;
  readonly worker: number;
  readonly connection: number;
  readonly source: number;
  readonly start: number;
  readonly end: number;
}

export interface SimResult {
  /** Virtual seconds from the first request to the last byte stored. */
  readonly seconds: number;
  /**
   * Seconds until the hash of the whole file is known: hash on arrival follows the contiguous prefix (told
   * at every tick and segment end, as DownloadRun pumps it), so what is left after the last byte is the tail
   * that arrived out of order.
   */
  readonly verifiedSeconds: number;
  /** See `idealSeconds`. */
  readonly idealSeconds: number;
  /** Body bytes the server sent: stored once, plus what was in flight when a response was cut. */
  readonly servedBytes: number;
  /** Sum over cut responses of the in-flight allowance: the cut connection's rate × max(0.1 s, RTT). */
  readonly allowanceBytes: number;
  readonly segments: readonly Segment[];
  readonly requests: readonly SimRequest[];
  /** Every piece of work the scheduler handed out. */
  readonly work: readonly Work[];
  /** The scheduler's decisions that were carried out, with when. */
  readonly decisions: readonly (Decision & { readonly atMs: number })[];
  readonly connectionsOpened: number;
  /** Bytes stored from each source (index = source id). */
  readonly bytesBySource: readonly number[];
  /** Every stored byte range with its source, merged where adjacent. */
  readonly servedBy: readonly ServedRange[];
  /** Requests a source refused (503 beyond its connections, or dead). */
  readonly refused: number;
  /** What the scheduler logged of its sources. */
  readonly sourceEvents: readonly (SourceEvent & { readonly atMs: number })[];
}

/** Seconds of a connection's rate assumed in flight (sent, not yet read) when its response is cut. */
const IN_FLIGHT_SECONDS = 0.1;
const MAX_EVENTS = 1_000_000;

/**
 * The time a perfect client needs: one connection set up and one round trip, then the file at the best rate the link allows with
 * `connections` connections: min(link cap, connections × cap). Slow connection slots and a connection that
 * slows down count as fast, since a client can replace them (the bench holds dlm to the same, as it ends
 * with only fast connections); slow workers (no reconnect escapes them) count at their own rate. Drops and
 * stalls are not in the ideal: what they cost is the client's.
 */
export function idealSeconds(sizeBytes: number, connections: number, shape: LinkShape): number {
  let sum = 0;
  for (let w = 1; w <= connections; w++) {
    const slow = shape.slowWorkers !== undefined && w % shape.slowWorkers.every === 0;
    sum += slow ? shape.capBytesPerSec / (shape.slowWorkers?.factor ?? 1) : shape.capBytesPerSec;
  }
  const rate = Math.min(sum, shape.linkCapBytesPerSec ?? Number.POSITIVE_INFINITY);
  return ((shape.connectMs ?? 0) + shape.rttMs) / 1000 + sizeBytes / rate;
}

/**
 * The ideal with mirrors: one round trip, then the file at the best total `connections` connections can get,
 * each added where it adds most (a source gives min(its total cap, n × its cap)); a source that dies counts
 * as absent, and so does one that corrupts (its bytes must be fetched again elsewhere).
 */
export function idealSourcesSeconds(
  sizeBytes: number,
  connections: number,
  sources: readonly SimSource[],
  rttMs: number,
): number {
  const live = sources.filter((s) => s.diesAtMs === undefined && s.corrupts !== true);
  const counts = live.map(() => 0);
  const total = (i: number, n: number): number => {
    const s = live[i] as SimSource;
    const max = Math.min(n, s.acceptsConnections ?? n);
    return Math.min(s.totalCapBytesPerSec ?? Number.POSITIVE_INFINITY, max * s.capBytesPerSec);
  };
  for (let c = 0; c < connections; c++) {
    let best = 0;
    let gain = -1;
    live.forEach((_, i) => {
      const g = total(i, (counts[i] ?? 0) + 1) - total(i, counts[i] ?? 0);
      if (g > gain) [best, gain] = [i, g];
    });
    counts[best] = (counts[best] ?? 0) + 1;
  }
  const rate = live.reduce((sum, _, i) => sum + total(i, counts[i] ?? 0), 0);
  return rttMs / 1000 + sizeBytes / rate;
}

interface Connection {
  readonly index: number;
  readonly source: number;
  /** Body bytes sent on it. */
  bytes: number;
  dead: boolean;
}

interface SimWorker {
  readonly id: number;
  work: Work | undefined;
  conn: Connection | undefined;
  /** `idle`: nothing to do now, asks again at the next tick or segment end (as DownloadRun's worker loop). */
  phase: "requesting" | "receiving" | "backoff" | "idle" | "done";
  /** End of the current wait (requesting: first byte; backoff: next attempt), ms. */
  until: number;
  sentAt: number;
  /** What the current request asked for (its end), to know what a cut response had left. */
  askedEnd: number;
  /** As WorkerActivity: bytes received for the current segment, the last byte's time (or attempt start). */
  received: number;
  lastByteAt: number;
  /** Bytes delivered but not yet whole (rates are real numbers, offsets integers). */
  carry: number;
  failures: number;
  doneAtAttempt: number;
}

/** Runs one download on virtual time and reports what happened; throws if it does not finish. */
export function simulate(options: SimOptions): SimResult {
  const { sizeBytes: size, connections, shape } = options;
  const rtt = shape.rttMs;
  const inFlightSeconds = Math.max(IN_FLIGHT_SECONDS, rtt / 1000);
  const random = mulberry32(options.seed ?? 1);
  const segments: Segment[] = [{ id: 0, start: 0, end: size - 1, done: 0 }];
  const scheduler = new Scheduler(
    segments,
    {
      mode: "range",
      connections,
      minSplitBytes: options.minSplitBytes ?? 1 << 20,
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
      sources: (options.sources ?? [{ name: "origin", capBytesPerSec: shape.capBytesPerSec }]).map(
        (s, id) => ({
          id,
          maxConnections: s.maxConnections,
        }),
      ),
    },
    0,
  );
  const sources: readonly SimSource[] = options.sources ?? [
    { name: "origin", capBytesPerSec: shape.capBytesPerSec },
  ];
  const bytesBySource = sources.map(() => 0);
  const servedBy: ServedRange[] = [];
  const sourceEvents: (SourceEvent & { atMs: number })[] = [];
  let refused = 0;
  const rttOf = (source: number): number => sources[source]?.rttMs ?? rtt;
  const deadSource = (source: number): boolean => {
    const at = sources[source]?.diesAtMs;
    return at !== undefined && now >= at;
  };
  const requests: SimRequest[] = [];
  const work: Work[] = [];
  const decisions: (Decision & { atMs: number })[] = [];
  let now = 0;
  let opened = 0;
  let wasted = 0;
  let allowance = 0;
  let nextTick = TICK_MS;
  const hashRate = options.hashBytesPerSec ?? 1e9;
  let hashed = 0;
  let hashQueued = 0;
  /** PrefixHasher.pump: queue the contiguous prefix that is on disk. */
  // The segments in file order, and the index of the first incomplete one: only the walk from there on is
  // redone (carving and stealing keep the order; a new or removed segment forces a re-sort).
  let ordered: Segment[] = [];
  let firstIncomplete = 0;
  let orderedLast: Segment | undefined;
  const walk = (): number | undefined => {
    let frontier = firstIncomplete === 0 ? 0 : (ordered[firstIncomplete - 1]?.end ?? -1) + 1;
    for (let i = firstIncomplete; i < ordered.length; i++) {
      const s = ordered[i] as Segment;
      if (s.start !== frontier) return undefined;
      frontier = s.start + s.done;
      if (s.done < lengthOf(s)) {
        firstIncomplete = i;
        return frontier;
      }
    }
    firstIncomplete = ordered.length;
    return frontier;
  };
  const pump = (): void => {
    // A steal that takes all of a victim removes it and adds one: the same count, a new last segment.
    const same = ordered.length === segments.length && orderedLast === segments.at(-1);
    let frontier = same ? walk() : undefined;
    if (frontier === undefined) {
      ordered = [...segments].sort((a, b) => a.start - b.start);
      orderedLast = segments.at(-1);
      firstIncomplete = 0;
      frontier = walk() ?? 0;
    }
    hashQueued = Math.max(hashQueued, frontier);
  };

  const rateOf = (w: SimWorker): number => {
    const c = w.conn;
    if (c === undefined || c.dead || w.phase !== "receiving") return 0;
    if (
      shape.stalls !== undefined &&
      c.index % shape.stalls.every === 0 &&
      c.bytes >= shape.stalls.afterBytes
    )
      return 0;
    if (deadSource(c.source)) return 0;
    let cap = sources[c.source]?.capBytesPerSec ?? shape.capBytesPerSec;
    if (shape.slowSlots !== undefined && c.index % shape.slowSlots.every === 0) cap /= shape.slowSlots.factor;
    if (shape.slowWorkers !== undefined && (w.id + 1) % shape.slowWorkers.every === 0)
      cap /= shape.slowWorkers.factor;
    if (shape.slowdown !== undefined && c.index === shape.slowdown.connection && now >= shape.slowdown.atMs)
      cap /= shape.slowdown.factor;
    return cap;
  };

  /** Max-min fair shares of `total` over demands. */
  const fair = (demand: { w: SimWorker; cap: number }[], total: number): Map<SimWorker, number> => {
    const out = new Map<SimWorker, number>();
    let left = total;
    demand.sort((a, b) => a.cap - b.cap);
    demand.forEach((d, i) => {
      const share = Math.min(d.cap, left / (demand.length - i));
      out.set(d.w, share);
      left -= share;
    });
    return out;
  };

  /** Max-min fair shares of each source's total cap, then of the link cap, over the connections moving bytes. */
  const rates = (ws: readonly SimWorker[]): Map<SimWorker, number> => {
    const capped = new Map<SimWorker, number>();
    sources.forEach((src, id) => {
      const demand = ws
        .filter((w) => w.conn?.source === id)
        .map((w) => ({ w, cap: rateOf(w) }))
        .filter((d) => d.cap > 0);
      for (const [w, r] of fair(demand, src.totalCapBytesPerSec ?? Number.POSITIVE_INFINITY))
        capped.set(w, r);
    });
    const demand = ws.map((w) => ({ w, cap: capped.get(w) ?? 0 })).filter((d) => d.cap > 0);
    const out = new Map<SimWorker, number>();
    let left = shape.linkCapBytesPerSec ?? Number.POSITIVE_INFINITY;
    demand.sort((a, b) => a.cap - b.cap);
    demand.forEach((d, i) => {
      const share = Math.min(d.cap, left / (demand.length - i));
      out.set(d.w, share);
      left -= share;
    });
    return out;
  };

  const send = (w: SimWorker, fresh: boolean): void => {
    const segment = w.work?.segment;
    if (segment === undefined) return;
    const source = w.work?.source ?? 0;
    const renew = fresh || w.conn === undefined || w.conn.dead || w.conn.source !== source;
    const conn = renew || w.conn === undefined ? { index: ++opened, source, bytes: 0, dead: false } : w.conn;
    w.conn = conn;
    w.phase = "requesting";
    w.sentAt = now;
    w.lastByteAt = now;
    w.doneAtAttempt = segment.done;
    w.until = now + rttOf(source) + (renew ? (shape.connectMs ?? 0) : 0);
    w.askedEnd = segment.end;
    requests.push({
      atMs: now,
      worker: w.id,
      connection: conn.index,
      source,
      start: segment.start + segment.done,
      end: segment.end,
    });
  };

  const takeWork = (w: SimWorker): void => {
    const next = scheduler.next(w.id, now);
    w.work = next;
    w.received = 0;
    w.failures = 0;
    if (next === undefined) {
      w.phase = scheduler.busy ? "idle" : "done";
      return;
    }
    work.push(next);
    send(w, w.conn === undefined || w.conn.dead || w.conn.source !== next.source);
  };

  /** Cuts the current response: what the server had in flight past what was stored is lost. */
  const cut = (w: SimWorker, rate: number): void => {
    const segment = w.work?.segment;
    const unasked = segment === undefined ? 0 : Math.max(0, w.askedEnd - (segment.start + segment.done - 1));
    const inFlight = rate * inFlightSeconds;
    wasted += Math.min(unasked, inFlight);
    allowance += inFlight;
  };

  /**
   * A failed attempt (drop, stall, a refusal): the source learns of it (as worker.ts tells the scheduler);
   * the worker gives the segment back when another source can take it, else backs off as worker.ts does
   * and retries on a new connection.
   */
  const fail = (w: SimWorker, rate: number, kind: "network" | "stall" | "503"): void => {
    cut(w, rate);
    if (w.conn !== undefined) w.conn.dead = true;
    const sourceFailure: SourceFailure =
      kind === "503" ? { kind: "limit", reason: "HTTP 503" } : { kind: "error", reason: kind };
    const verdict = scheduler.failed(w.id, sourceFailure, now);
    if (verdict.leave) {
      w.conn = undefined;
      scheduler.finished(w.id, now);
      takeWork(w);
      return;
    }
    const segment = w.work?.segment;
    const progressed = segment !== undefined && segment.done > w.doneAtAttempt;
    w.failures = progressed ? 1 : w.failures + 1;
    const failure: FailureKind =
      kind === "stall"
        ? { kind }
        : kind === "503"
          ? { kind: "status", status: 503 }
          : { kind, reason: "reset" };
    const decision = afterProgress(
      decideRetry(failure, w.failures, DEFAULT_RETRY_OPTIONS, 0, random),
      failure,
      progressed,
    );
    if (!decision.retry) throw new Error(`worker ${w.id}: ${decision.reason}`);
    w.phase = "backoff";
    w.until = now + decision.delayMs;
  };

  /** DownloadRun wakes its idle workers at every tick and whenever a segment ends. */
  const wakeIdle = (): void => {
    for (const w of workers) if (w.phase === "idle") takeWork(w);
  };

  const workers: SimWorker[] = Array.from({ length: connections }, (_, id) => ({
    id,
    work: undefined,
    conn: undefined,
    phase: "done",
    until: 0,
    sentAt: 0,
    askedEnd: 0,
    received: 0,
    lastByteAt: 0,
    carry: 0,
    failures: 0,
    doneAtAttempt: 0,
  }));
  // As DownloadRun: every worker asks for work at once, in worker order.
  for (const w of workers) takeWork(w);

  for (let events = 0; ; events++) {
    if (events > MAX_EVENTS) throw new Error(`${shape.name}: no end after ${MAX_EVENTS} events`);
    // DownloadRun ends the workers still waiting (backoff, idle) once every segment is complete.
    if (workers.every((w) => w.phase === "done" || w.phase === "idle") || firstIncomplete >= segments.length)
      break;
    const current = rates(workers);
    // The next event: a tick, a wait ending, a slowdown starting, or a transfer reaching a boundary.
    let dt = nextTick - now;
    for (const w of workers) {
      if (w.phase === "requesting" || w.phase === "backoff") dt = Math.min(dt, w.until - now);
      const rate = current.get(w) ?? 0;
      const segment = w.work?.segment;
      if (rate <= 0 || segment === undefined || w.conn === undefined) continue;
      const limits = [remainingOf(segment)];
      if (shape.drops !== undefined && w.conn.index % shape.drops.every === 0)
        limits.push(shape.drops.afterBytes - w.conn.bytes);
      if (shape.stalls !== undefined && w.conn.index % shape.stalls.every === 0)
        limits.push(shape.stalls.afterBytes - w.conn.bytes);
      const bytes = Math.max(0, Math.min(...limits) - w.carry);
      dt = Math.min(dt, (bytes / rate) * 1000);
    }
    if (shape.slowdown !== undefined && shape.slowdown.atMs > now)
      dt = Math.min(dt, shape.slowdown.atMs - now);
    for (const src of sources)
      if (src.diesAtMs !== undefined && src.diesAtMs > now) dt = Math.min(dt, src.diesAtMs - now);
    dt = Math.max(0, dt);
    now += dt;
    hashed = Math.min(hashQueued, hashed + (hashRate * dt) / 1000);
    // Move the bytes.
    for (const w of workers) {
      const rate = current.get(w) ?? 0;
      const segment = w.work?.segment;
      if (rate <= 0 || segment === undefined || w.conn === undefined) continue;
      const delivered = w.carry + (rate * dt) / 1000;
      let whole = Math.floor(delivered + 1e-6);
      w.carry = Math.max(0, delivered - whole);
      whole = Math.min(whole, remainingOf(segment));
      if (whole > 0) {
        const at = segment.start + segment.done;
        const source = w.conn.source;
        bytesBySource[source] = (bytesBySource[source] ?? 0) + whole;
        const last = servedBy.at(-1);
        if (last !== undefined && last.source === source && last.end === at - 1)
          servedBy[servedBy.length - 1] = { ...last, end: at + whole - 1 };
        else servedBy.push({ source, start: at, end: at + whole - 1 });
        segment.done += whole;
        w.received += whole;
        w.conn.bytes += whole;
        w.lastByteAt = now;
      }
    }
    // Worker events, in worker order.
    for (const w of workers) {
      const rate = current.get(w) ?? 0;
      const segment = w.work?.segment;
      if (w.phase === "backoff" && now >= w.until) {
        // worker.ts: the retry loop asks again only while the segment still needs bytes (a steal may have
        // taken all of them meanwhile).
        if (segment !== undefined && remainingOf(segment) === 0) {
          w.conn = undefined;
          scheduler.finished(w.id, now);
          takeWork(w);
        } else send(w, true);
        continue;
      }
      if (segment === undefined) continue;
      if (w.phase === "requesting" && now >= w.until) {
        const source = w.conn?.source ?? 0;
        const accepts = sources[source]?.acceptsConnections;
        const open = workers.filter(
          (o) =>
            o !== w &&
            o.phase === "receiving" &&
            o.conn !== undefined &&
            !o.conn.dead &&
            o.conn.source === source,
        ).length;
        if (deadSource(source) || (accepts !== undefined && open >= accepts)) {
          refused++;
          fail(w, 0, deadSource(source) ? "network" : "503");
          continue;
        }
        scheduler.firstByte(w.id, now - w.sentAt, now);
        w.phase = "receiving";
        w.carry = 0;
      }
      if (w.phase === "receiving" && remainingOf(segment) === 0) {
        // The body loop stops at the segment's end; if a steal moved it, the rest of the answer is dropped.
        if (segment.end < w.askedEnd) cut(w, rate);
        w.carry = 0;
        scheduler.finished(w.id, now);
        pump();
        takeWork(w);
        wakeIdle();
        continue;
      }
      const c = w.conn;
      if (w.phase === "receiving" && c !== undefined && !c.dead && deadSource(c.source)) {
        fail(w, rate, "network");
        continue;
      }
      if (
        w.phase === "receiving" &&
        c !== undefined &&
        !c.dead &&
        shape.drops !== undefined &&
        c.index % shape.drops.every === 0 &&
        c.bytes >= shape.drops.afterBytes
      ) {
        fail(w, rate, "network");
      }
    }
    if (now >= nextTick) {
      nextTick += TICK_MS;
      pump();
      const byId = new Map(workers.map((w) => [w.id, w]));
      const made = scheduler.tick(now, (id) => {
        const w = byId.get(id);
        if (w === undefined || w.work === undefined || w.phase === "done" || w.phase === "idle")
          return undefined;
        // `received` as DownloadRun samples it (the scheduler counts bytes from `done`; kept so that the
        // simulator can also drive earlier schedulers for a before/after table).
        return { received: w.received, lastByteAt: w.lastByteAt, waiting: w.phase === "backoff" };
      });
      // DownloadRun logs the sources' changes at each tick.
      for (const e of scheduler.takeSourceEvents()) sourceEvents.push({ ...e, atMs: now });
      wakeIdle();
      for (const d of made) {
        const w = byId.get(d.worker);
        if (w === undefined || (w.phase !== "requesting" && w.phase !== "receiving")) continue;
        decisions.push({ ...d, atMs: now });
        const rate = current.get(w) ?? 0;
        if (d.kind === "stalled") fail(w, rate, "stall");
        else {
          // worker.ts: a slow restart re-requests at once, on a fresh connection.
          cut(w, rate);
          if (w.conn !== undefined) w.conn.dead = true;
          send(w, true);
        }
      }
    }
  }
  const stored = segments.reduce((sum, s) => sum + s.done, 0);
  for (const e of scheduler.takeSourceEvents()) sourceEvents.push({ ...e, atMs: now });
  pump();
  return {
    seconds: now / 1000,
    verifiedSeconds: now / 1000 + (size - hashed) / hashRate,
    idealSeconds:
      options.sources === undefined
        ? idealSeconds(size, connections, shape)
        : idealSourcesSeconds(size, connections, options.sources, rtt),
    servedBytes: stored + wasted,
    allowanceBytes: allowance,
    segments,
    requests,
    work,
    decisions,
    connectionsOpened: opened,
    bytesBySource,
    servedBy,
    refused,
    sourceEvents,
  };
}

/** Small seeded PRNG (mulberry32), for the retry jitter. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes of the file covered by `segments` (for tiling checks). */
export function coveredBytes(segments: readonly Segment[]): number {
  return segments.reduce((sum, s) => sum + lengthOf(s), 0);
}
