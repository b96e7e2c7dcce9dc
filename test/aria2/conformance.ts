import type { RpcAnswer } from "./rpc-client.ts";

/**
 * Keys whose values mean the same on aria2c and dlm for the same calls on the same files (everything else,
 * GIDs, directories, speeds and session ids, is compared by type only).
 */
const SAME_VALUE = new Set([
  "status",
  "totalLength",
  "numPieces",
  "pieceLength",
  "errorCode",
  "selected",
  "index",
  "uploadLength",
  "uploadSpeed",
  "code",
  "length",
]);

/** Answers whose content is a list of option or method names: only aria2c's mapped part is compared. */
const OPTION_KEYS = new Set([
  "dir",
  "out",
  "split",
  "max-connection-per-server",
  "header",
  "checksum",
  "max-download-limit",
  "max-overall-download-limit",
  "max-concurrent-downloads",
  "user-agent",
  "referer",
]);

/** Lists whose length differs by design: aria2 repeats a URI per connection; its features are its own. */
const ANY_LENGTH = new Set(["uris", "enabledFeatures"]);

function kind(value: unknown): string {
  return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

/**
 * Where `actual` (dlm's answer) falls short of `expected` (aria2c's): a missing key, another value type, an
 * array of another length, a different value for a SAME_VALUE key. Option structs compare only the options
 * dlm maps (aria2c lists ~200). Each gap is one line naming the step and the path.
 */
export function conformanceGaps(step: string, expected: RpcAnswer, actual: RpcAnswer | undefined): string[] {
  if (actual === undefined) return [`${step}: dlm has no answer`];
  const gaps: string[] = [];
  if (actual.status !== expected.status)
    gaps.push(`${step}: HTTP ${actual.status}, aria2c ${expected.status}`);
  if ((expected.error === undefined) !== (actual.error === undefined)) {
    gaps.push(
      `${step}: aria2c ${JSON.stringify(expected.error ?? expected.result)}, dlm ${JSON.stringify(actual.error ?? actual.result)}`,
    );
    return gaps;
  }
  const options = step.startsWith("getOption") || step.startsWith("getGlobalOption");
  const walk = (path: string, a: unknown, d: unknown, key: string | undefined) => {
    if (kind(a) !== kind(d)) {
      gaps.push(
        `${step}${path}: aria2c ${kind(a)} ${JSON.stringify(a)}, dlm ${kind(d)} ${JSON.stringify(d)}`,
      );
      return;
    }
    if (Array.isArray(a) && Array.isArray(d)) {
      if (a.length !== d.length && !ANY_LENGTH.has(key ?? ""))
        gaps.push(`${step}${path}: aria2c ${a.length} items, dlm ${d.length}`);
      for (let i = 0; i < Math.min(a.length, d.length); i++) {
        walk(`${path}[${i}]`, a[i], d[i], ANY_LENGTH.has(key ?? "") ? "" : undefined);
      }
      return;
    }
    if (typeof a === "object" && a !== null && typeof d === "object" && d !== null) {
      const dObj = d as Record<string, unknown>;
      for (const [k, v] of Object.entries(a)) {
        if (options && path === "" && !OPTION_KEYS.has(k)) continue;
        if (!(k in dObj)) gaps.push(`${step}${path}.${k}: missing (aria2c ${JSON.stringify(v)})`);
        else walk(`${path}.${k}`, v, dObj[k], k);
      }
      return;
    }
    const top = path === "" && (typeof a === "number" || a === "OK");
    if ((key !== undefined && SAME_VALUE.has(key)) || top) {
      if (a !== d) gaps.push(`${step}${path}: aria2c ${JSON.stringify(a)}, dlm ${JSON.stringify(d)}`);
    }
  };
  if (expected.error !== undefined) walk(".error", expected.error, actual.error, undefined);
  else walk("", expected.result, actual.result, undefined);
  return gaps;
}
