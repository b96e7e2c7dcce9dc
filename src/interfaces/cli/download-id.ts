import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { sidecarOf } from "../../engine/prepare.ts";

/** The id written as digits, optionally after `d` (`12`, `d12`); undefined for anything else. */
export function parseDownloadId(argument: string): number | undefined {
  const match = /^d?(\d{1,15})$/.exec(argument);
  const id = match === null ? 0 : Number(match[1]);
  return id > 0 ? id : undefined;
}

/**
 * The id an argument of `dlm pause|resume` names, or undefined when it is a FILE: an id as
 * {@link parseDownloadId} reads it, unless a file or a FILE.dlm sidecar of that name exists in `cwd`, so
 * `dlm pause 2024` still reaches a `dlm get --listen` writing ./2024.
 */
export function downloadIdOf(argument: string, cwd: string): number | undefined {
  const id = parseDownloadId(argument);
  if (id === undefined) return undefined;
  const path = resolve(cwd, argument);
  return existsSync(path) || existsSync(sidecarOf(path)) ? undefined : id;
}
