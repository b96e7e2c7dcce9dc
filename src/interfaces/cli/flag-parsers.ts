import { assertFetchableUrl } from "../../engine/url-scheme.ts";
import { UsageError } from "../../errors.ts";

/**
 * Flag parse functions. Each rejects bad input before any network or disk I/O with a one-line `UsageError`
 * that names the flag and the value, e.g. `--connections: expected 1..64, got "0"`.
 */

function usage(flag: string, input: string, expected: string): UsageError {
  return new UsageError(`${flag}: expected ${expected}, got ${JSON.stringify(input)}`, {
    flag,
    input,
    expected,
  });
}

/** An integer in [min, max], written in plain decimal digits. */
export function integerIn(flag: string, min: number, max: number): (input: string) => number {
  return (input) => {
    const trimmed = input.trim();
    if (!/^\d+$/.test(trimmed)) throw usage(flag, input, `an integer ${min}..${max}`);
    const value = Number(trimmed);
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw usage(flag, input, `${min}..${max}`);
    return value;
  };
}

/** A byte offset (non-negative integer, decimal). */
export function byteOffset(flag: string): (input: string) => number {
  return integerIn(flag, 0, Number.MAX_SAFE_INTEGER);
}

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size like `512K`, `4M`, `1G` or a plain byte count (binary units). */
export function byteSize(flag: string, min: number): (input: string) => number {
  return (input) => {
    const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(input.trim());
    const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
    if (match?.[1] === undefined || unit === undefined)
      throw usage(flag, input, "a size like 1048576, 512K or 4M");
    const value = Number(match[1]) * unit;
    if (!Number.isSafeInteger(value) || value < min)
      throw usage(flag, input, `a size of at least ${min} bytes`);
    return value;
  };
}

/** A duration in seconds (`30`, `2.5`) or with a unit (`500ms`, `30s`, `2m`); returned in ms, > 0. */
export function durationMs(flag: string): (input: string) => number {
  return (input) => {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/i.exec(input.trim());
    if (match?.[1] === undefined) throw usage(flag, input, "a duration like 30, 30s, 500ms or 2m");
    const factor = { ms: 1, s: 1000, m: 60_000 }[(match[2] ?? "s").toLowerCase() as "ms" | "s" | "m"];
    const value = Number(match[1]) * factor;
    if (!(value > 0) || !Number.isFinite(value)) throw usage(flag, input, "a duration above 0");
    return value;
  };
}

/** An absolute http(s) URL. */
export function httpUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UsageError(`URL: expected an absolute http:// or https:// URL, got ${JSON.stringify(input)}`, {
      flag: "URL",
      input,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`URL: only http:// and https:// are supported, got ${JSON.stringify(input)}`, {
      flag: "URL",
      input,
    });
  }
  return url.href;
}

/** `--mirror URL`: an absolute http(s) URL (the one URL-scheme rule, engine/url-scheme.ts). */
export function mirrorUrl(input: string): string {
  return assertFetchableUrl(input, "--mirror").href;
}

/**
 * A request header `Name: value`: a token name (RFC 9110 §5.1) and a value of visible ASCII, spaces and tabs
 * (§5.5). RFC 9110 tolerates other bytes only as obsolete text; fetch would refuse them later as exit 1, so
 * non-ASCII and control characters are refused here, before any I/O.
 */
export function header(input: string): readonly [string, string] {
  const colon = input.indexOf(":");
  const name = colon > 0 ? input.slice(0, colon).trim() : "";
  const value = colon > 0 ? input.slice(colon + 1).trim() : "";
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw usage("--header", input, "'Name: value'");
  if (!/^[\t\x20-\x7e]*$/.test(value)) {
    throw usage("--header", input, "'Name: value' with a value of printable ASCII (no control characters)");
  }
  if (/^(range|if-range|accept-encoding)$/i.test(name)) {
    throw new UsageError(
      `--header: ${name} is managed by dlm and cannot be set, got ${JSON.stringify(input)}`,
      {
        flag: "--header",
        input,
      },
    );
  }
  return [name, value];
}

/** A non-empty output path. */
export function outputPath(input: string): string {
  if (input.trim() === "" || input.includes("\0")) throw usage("--output", input, "a file path");
  if (input.endsWith("/")) throw usage("--output", input, "a file path, not a directory");
  return input;
}

/** `--store`: a postgres:// or postgresql:// URL (the only store besides the default SQLite file). */
export function storeUrl(input: string): string {
  const url = URL.parse(input.trim());
  if (url === null || (url.protocol !== "postgres:" && url.protocol !== "postgresql:")) {
    throw usage("--store", input, "a postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE URL");
  }
  return input.trim();
}

/** `--node`: a node name of 1..63 letters, digits, dots, dashes and underscores. */
export function nodeName(input: string): string {
  if (!/^[A-Za-z0-9._-]{1,63}$/.test(input)) {
    throw usage("--node", input, "1..63 letters, digits, '.', '-' or '_'");
  }
  return input;
}
