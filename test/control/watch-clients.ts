import { expect } from "bun:test";
import { join } from "node:path";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { ProgressService, State } from "../../src/gen/dlm/v1/progress_pb.ts";
import { curl, parseEnvelopes } from "./fixture.ts";

// One way to watch a download per kind of client, each reduced to the same WatchOutcome for comparison.

/** One Watch message, reduced to what the tests compare. */
export interface Seen {
  readonly bytes: number;
  readonly total: number | undefined;
  readonly state: string;
}

/** How a Watch stream ended, whatever the client. */
export interface WatchOutcome {
  readonly messages: Seen[];
  /** gRPC/Connect status code name, lower snake case (`ok`, `canceled`, `unavailable`...). */
  readonly code: string;
  readonly message: string;
}

const GRPC_CODE_NAMES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/** Name of a numeric gRPC status code. */
export function codeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `code ${code}`;
}

/** Path of the grpc-js client script (run under Node). */
export const GRPC_SCRIPT = join(import.meta.dir, "grpc-watch.mjs");

/**
 * Runs the grpc-js client under Node against `rpcUrl` and returns what it saw. `extra` are its options
 * (`--authority NAME`, `--max N`); token "-" sends none.
 */
export async function grpcJsWatch(
  rpcUrl: string,
  token: string,
  extra: readonly string[] = [],
): Promise<WatchOutcome> {
  const child = Bun.spawn(["node", GRPC_SCRIPT, new URL(rpcUrl).host, token, ...extra], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  const lines = stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const status = lines.find((l) => l["type"] === "status");
  if (status === undefined)
    throw new Error(`grpc-js client printed no status\nstdout: ${stdout}\nstderr: ${stderr}`);
  return {
    messages: lines
      .filter((l) => l["type"] === "progress")
      .map((l) => ({
        bytes: Number(l["bytes"]),
        total: l["total"] === undefined || l["total"] === null ? undefined : Number(l["total"]),
        state: String(l["state"]),
      })),
    code: codeName(Number(status["code"])),
    message: String(status["details"]),
  };
}

/**
 * Runs ProgressService.Watch over a Connect-ES `transport` and returns what it saw. `onMessage` may act on
 * each message (pause, abort...); `signal` cancels the call.
 */
export async function connectWatch(
  transport: Transport,
  token: string | undefined,
  options: { signal?: AbortSignal; onMessage?: (seen: Seen, index: number) => void | Promise<void> } = {},
): Promise<WatchOutcome> {
  const client = createClient(ProgressService, transport);
  const messages: Seen[] = [];
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  try {
    for await (const p of client.watch(
      {},
      { headers, ...(options.signal === undefined ? {} : { signal: options.signal }) },
    )) {
      const seen = {
        bytes: Number(p.bytesDownloaded),
        total: p.totalBytes === undefined ? undefined : Number(p.totalBytes),
        state: `STATE_${State[p.state]}`,
      };
      messages.push(seen);
      await options.onMessage?.(seen, messages.length - 1);
    }
    return { messages, code: "ok", message: "" };
  } catch (error) {
    const e = ConnectError.from(error);
    return { messages, code: codeName(e.code), message: e.rawMessage };
  }
}

/** Runs Watch with curl (Connect protocol, JSON) against `url`; `http2` uses prior-knowledge h2c. */
export async function curlWatch(
  baseUrl: string,
  token: string,
  requestFile: string,
  http2: boolean,
): Promise<WatchOutcome> {
  const r = await curl([
    ...(http2 ? ["--http2-prior-knowledge"] : []),
    "-N",
    "-H",
    `Authorization: Bearer ${token}`,
    "-H",
    "content-type: application/connect+json",
    "--data-binary",
    `@${requestFile}`,
    `${baseUrl}/dlm.v1.ProgressService/Watch`,
  ]);
  const envelopes = parseEnvelopes(r.bytes);
  const end = envelopes.find((e) => e.end);
  const error = end?.json["error"] as { code?: string; message?: string } | undefined;
  return {
    messages: envelopes
      .filter((e) => !e.end)
      .map((e) => ({
        bytes: Number(e.json["bytesDownloaded"]),
        total: e.json["totalBytes"] === undefined ? undefined : Number(e.json["totalBytes"]),
        state: String(e.json["state"]),
      })),
    code: end === undefined ? `curl exit ${r.code}` : (error?.code ?? "ok"),
    message: error?.message ?? r.stderr,
  };
}

/** Expects `outcome` to show bytes rising monotonically to `size` and a clean end in FINISHED. */
export function expectWatchedToEnd(outcome: WatchOutcome, size: number): void {
  expect({ code: outcome.code, message: outcome.message }).toEqual({ code: "ok", message: "" });
  expect(outcome.messages.length).toBeGreaterThanOrEqual(2);
  const bytes = outcome.messages.map((m) => m.bytes);
  expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
  expect(outcome.messages.at(-1)).toEqual({ bytes: size, total: size, state: "STATE_FINISHED" });
}
