import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { Context } from "../../src/context.ts";
import { Controller } from "../../src/control/controller.ts";
import { type DownloadRequest, REQUEST_DEFAULTS } from "../../src/engine/download-request.ts";
import { DEFAULT_RETRY_OPTIONS } from "../../src/engine/retry-policy.ts";
import { type ControlPlane, startControlPlane } from "../../src/interfaces/control-plane.ts";
import type { ProgressHub } from "../../src/progress/hub.ts";
import type { ProgressSnapshot } from "../../src/progress/snapshot.ts";

/** A context that writes nowhere, for in-process downloads. */
export function quietContext(cwd: string): Context {
  const sink = { write: () => undefined, isTTY: false };
  return {
    fetch: globalThis.fetch,
    now: () => Date.now(),
    monotonic: () => performance.now(),
    env: {},
    stdout: sink,
    stderr: sink,
    cwd,
  };
}

/** A download request with the CLI's defaults. */
export function requestFor(url: string, output: string, connections = 4): DownloadRequest {
  return {
    url,
    output,
    connections,
    rangeStart: undefined,
    rangeEnd: undefined,
    checksum: undefined,
    headers: [],
    force: false,
    restart: false,
    storage: REQUEST_DEFAULTS.storage,
    stallTimeoutMs: REQUEST_DEFAULTS.stallTimeoutMs,
    retry: DEFAULT_RETRY_OPTIONS,
    minSplitBytes: REQUEST_DEFAULTS.minSplitBytes,
    checkpointIntervalMs: REQUEST_DEFAULTS.checkpointIntervalMs,
  };
}

/** A Controller with a control plane on 127.0.0.1 (free ports), not yet running. */
export interface Plane {
  readonly controller: Controller;
  readonly plane: ControlPlane;
  readonly output: string;
  /** `Authorization` header value. */
  readonly auth: string;
}

/** Creates a Controller for `url` into `dir/name` and starts its control plane (pause keeps it alive). */
export async function planeFor(
  url: string,
  dir: string,
  name: string,
  options: { connections?: number; idleTimeoutSeconds?: number; maxBodyBytes?: number } = {},
): Promise<Plane> {
  const output = join(dir, name);
  const controller = new Controller(
    quietContext(dir),
    requestFor(url, output, options.connections),
    getLogger(["dlm", "test"]),
    {
      onPrepared: (prepared) => void plane.writeControlFile(prepared.sidecar),
    },
  );
  const plane = await startControlPlane(controller, {
    listen: { host: "127.0.0.1", port: 0 },
    log: getLogger(["dlm", "test"]),
    ...(options.idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds: options.idleTimeoutSeconds }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  });
  controller.keepAliveWhenPaused(true);
  return { controller, plane, output, auth: `Bearer ${plane.token}` };
}

/** What one curl run printed. */
export interface CurlResult {
  readonly code: number;
  readonly stdout: string;
  readonly bytes: Uint8Array;
  readonly stderr: string;
}

/** Runs `curl -sS` with `args` (20 s cap); resolves with its exit code and output. */
export async function curl(args: readonly string[]): Promise<CurlResult> {
  const child = Bun.spawn(["curl", "-sS", "--max-time", "20", ...args], { stdout: "pipe", stderr: "pipe" });
  const [buffer, stderr, code] = await Promise.all([
    new Response(child.stdout).arrayBuffer(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  const bytes = new Uint8Array(buffer);
  return { code, stdout: new TextDecoder().decode(bytes), bytes, stderr };
}

/** One Connect streaming envelope: flags byte, big-endian length, payload. */
export function envelope(json: unknown, flags = 0): Uint8Array {
  const payload = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** A decoded Connect envelope: `end` is the end-of-stream message ({} on success, {error} otherwise). */
export interface Envelope {
  readonly end: boolean;
  readonly json: Record<string, unknown>;
}

/** Splits a Connect streaming response body (application/connect+json) into its envelopes. */
export function parseEnvelopes(bytes: Uint8Array): Envelope[] {
  const out: Envelope[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 5 <= bytes.length) {
    const length = view.getUint32(at + 1);
    const text = new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length));
    out.push({ end: ((bytes[at] ?? 0) & 0x02) !== 0, json: JSON.parse(text) as Record<string, unknown> });
    at += 5 + length;
  }
  return out;
}

/** Polls `condition` every 10 ms until it holds; throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/**
 * Resolves with the first snapshot `hub` publishes for which `match` holds, counting from the next publish
 * (the controller samples every 250 ms and publishes on every state change, so this waits on events, not on
 * a clock). `count` > 1 waits for that many matching publishes. Rejects after `timeoutMs` naming `what`.
 */
export function published(
  hub: ProgressHub,
  what: string,
  match: (snapshot: ProgressSnapshot) => boolean,
  { count = 1, timeoutMs = 10_000 }: { count?: number; timeoutMs?: number } = {},
): Promise<ProgressSnapshot> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      detach();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const detach = hub.onPublish((snapshot) => {
      if (!match(snapshot) || ++seen < count) return;
      clearTimeout(timer);
      detach();
      resolve(snapshot);
    });
  });
}

/** Like {@link published}, but resolves at once when the latest snapshot already matches. */
export function reached(
  hub: ProgressHub,
  what: string,
  match: (snapshot: ProgressSnapshot) => boolean,
  timeoutMs = 10_000,
): Promise<ProgressSnapshot> {
  const latest = hub.latest();
  if (latest !== undefined && match(latest)) return Promise.resolve(latest);
  return published(hub, what, match, { timeoutMs });
}
