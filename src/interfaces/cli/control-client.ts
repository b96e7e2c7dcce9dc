import { join, resolve } from "node:path";
import type { Context } from "../../context.ts";
import type { Command } from "../../control/transitions.ts";
import { networkReasonOf } from "../../engine/network-failure.ts";
import { sidecarOf } from "../../engine/prepare.ts";
import {
  CommandRefusedError,
  HttpStatusError,
  NetworkError,
  StateFileError,
  UsageError,
} from "../../errors.ts";
import { logger } from "../../log.ts";
import type { CommandBody, StatusBody } from "../shared/api-bodies.ts";
import { CONTROL_FILE, type ControlFile } from "../shared/control-file.ts";
import { readJsonFields } from "./read-json-file.ts";

export type { CommandBody, StatusBody };

/** Each call to a live download's API: `DLM_LOG=cli=debug` shows what a client command asked and got. */
const CLI_LOG = logger("cli");

/** How long a client waits for the control API to answer, ms. */
const REQUEST_TIMEOUT_MS = 5000;

/** A running download found through its control.json. */
export interface LiveDownload {
  /** Absolute output path. */
  readonly output: string;
  readonly control: ControlFile;
}

/**
 * Reads `FILE.dlm/control.json` of `file` (relative to the context's cwd). Undefined when there is none (no
 * control plane runs for FILE); StateFileError when it is not what a control plane writes.
 */
export async function findLiveDownload(ctx: Context, file: string): Promise<LiveDownload | undefined> {
  const output = resolve(ctx.cwd, file);
  const path = join(sidecarOf(output), CONTROL_FILE);
  const v = await readJsonFields<ControlFile>(path);
  if (v === undefined) return undefined;
  if (typeof v.http !== "string" || typeof v.rpc !== "string" || typeof v.token !== "string") {
    throw new StateFileError(`${path}: expected {http, rpc, token, pid}`, { file: path });
  }
  return {
    output,
    control: { http: v.http, rpc: v.rpc, token: v.token, pid: typeof v.pid === "number" ? v.pid : 0 },
  };
}

/** Like {@link findLiveDownload}, but a missing control.json is a UsageError that says how to get one. */
export async function requireLiveDownload(ctx: Context, file: string): Promise<LiveDownload> {
  const live = await findLiveDownload(ctx, file);
  if (live !== undefined) return live;
  const output = resolve(ctx.cwd, file);
  throw new UsageError(
    `${output}: no running download with a control plane (no ${CONTROL_FILE} in its sidecar)`,
    {
      file: output,
      hint: "start downloads with dlm get --listen 0 to control them",
    },
  );
}

/** `GET /status` of a live download. */
export function fetchStatus(ctx: Context, live: LiveDownload): Promise<StatusBody> {
  return call<StatusBody>(ctx, live, "GET", "/status");
}

/** `POST /pause|/resume|/cancel`; a 409 (impossible in this state) is a CommandRefusedError with the reason. */
export function sendCommand(ctx: Context, live: LiveDownload, command: Command): Promise<CommandBody> {
  return call<CommandBody>(ctx, live, "POST", `/${command}`);
}

async function call<T>(ctx: Context, live: LiveDownload, method: string, path: string): Promise<T> {
  const url = `${live.control.http}${path}`;
  const sentAt = ctx.monotonic();
  let response: Response;
  try {
    response = await ctx.fetch(url, {
      method,
      headers: { authorization: `Bearer ${live.control.token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new NetworkError(`${method} ${url}: the dlm process of ${live.output} does not answer`, {
      reason: networkReasonOf(error),
      url,
      file: live.output,
      cause: error,
      hint: "it may have stopped; dlm resume FILE continues from the state file",
    });
  }
  const body: unknown = await response.json().catch(() => undefined);
  // The token travels in a header and is never logged.
  CLI_LOG.debug("{method} {url}: {status}", {
    method,
    url,
    status: response.status,
    elapsed_ms: Math.round(ctx.monotonic() - sentAt),
  });
  if (!response.ok) {
    const message = (body as { message?: unknown } | undefined)?.message;
    const text = `${live.output}: ${typeof message === "string" ? message : `${method} ${path} answered ${response.status}`}`;
    if (response.status === 409) throw new CommandRefusedError(text, { url, file: live.output });
    throw new HttpStatusError(text, { url, file: live.output, status: response.status });
  }
  return body as T;
}
