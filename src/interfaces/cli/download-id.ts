import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { sidecarOf } from "../../engine/prepare.ts";

/**
 * The id an argument names, or undefined when it is a FILE. An id is digits, optionally after `d` (`12`,
 * `d12`); but when a file or a FILE.dlm sidecar of that name exists in `cwd`, the argument is that FILE, so
 * `dlm pause 2024` still reaches a `dlm get --listen` writing ./2024.
 */
export function downloadIdOf(argument: string, cwd: string): number | undefined {
  const match = /^d?(\d{1,15})$/.exec(argument);
  if (match === null) return undefined;
  const path = resolve(cwd, argument);
  if (existsSync(path) || existsSync(sidecarOf(path))) return undefined;
  const id = Number(match[1]);
  return id > 0 ? id : undefined;
}
