import { isAbsolute, join, relative, resolve } from "node:path";
import { Aria2Fault } from "./aria2-fault.ts";

/** aria2 options as a client sends them: every value a string, `header` also a list of strings. */
export type Aria2Options = ReadonlyMap<string, string | readonly string[]>;

/** The options dlm maps onto a download; every other option is accepted, logged and ignored. */
export const MAPPED_OPTIONS: ReadonlySet<string> = new Set([
  "dir",
  "out",
  "split",
  "max-connection-per-server",
  "header",
  "checksum",
  "max-download-limit",
  "user-agent",
  "referer",
  "pause",
]);

/** Global options dlm maps; the rest are accepted, logged and ignored. */
export const MAPPED_GLOBAL_OPTIONS: ReadonlySet<string> = new Set([
  "max-overall-download-limit",
  "max-concurrent-downloads",
]);

/** Most connections one download may ask for (as DownloadService's Add). */
const MAX_CONNECTIONS = 64;

/** What aria2 options ask of one download, in dlm's terms. */
export interface MappedOptions {
  /** Relative to dlm serve's --dir ("" = the directory itself). */
  readonly directory?: string;
  readonly output?: string;
  /** Connections asked for; absent = the default. */
  readonly connections?: number;
  /** Headers in order; user-agent and referer become User-Agent and Referer. */
  readonly headers?: readonly (readonly [string, string])[];
  /** "ALGO:HEX" as --checksum takes it. */
  readonly checksum?: string;
  /** Bytes per second; 0 = none. */
  readonly speedLimit?: number;
  readonly paused: boolean;
  /** Options given that dlm does not map. */
  readonly ignored: readonly string[];
}

function badOption(name: string, value: unknown): Aria2Fault {
  // aria2's own wording for an option it cannot take.
  return new Aria2Fault(
    `We encountered a problem while processing the option '--${name}': ${JSON.stringify(value)}`,
  );
}

/** Reads an options struct (absent = none); anything but strings (and a list for `header`) is refused. */
export function readOptions(raw: unknown): Aria2Options {
  const out = new Map<string, string | readonly string[]>();
  if (raw === undefined) return out;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Aria2Fault("options must be a struct");
  }
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === "string") out.set(name, value);
    else if (Array.isArray(value) && value.every((item) => typeof item === "string")) out.set(name, value);
    else throw badOption(name, value);
  }
  return out;
}

function single(options: Aria2Options, name: string): string | undefined {
  const value = options.get(name);
  if (value === undefined || typeof value === "string") return value;
  if (value.length === 1) return value[0];
  throw badOption(name, value);
}

/** aria2's size syntax: digits with an optional K or M suffix (1024-based). */
export function parseSize(name: string, value: string): number {
  const match = /^(\d{1,15})([KkMm]?)$/.exec(value.trim());
  if (match === null) throw badOption(name, value);
  const unit = match[2]?.toLowerCase();
  return Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
}

function count(name: string, value: string, max: number): number {
  const n = /^\d{1,4}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= max)) throw badOption(name, value);
  return n;
}

/** A `Name: value` header line. */
function headerOf(line: string): [string, string] {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line);
  if (match?.[1] === undefined || match[2] === undefined || /[\r\n\0]/.test(line))
    throw badOption("header", line);
  return [match[1], match[2]];
}

/** aria2 checksum `sha-256=HEX` → dlm's `sha256:HEX` (the engine checks algorithm and length). */
function checksumOf(value: string): string {
  const match = /^([A-Za-z0-9-]+)=([0-9a-fA-F]+)$/.exec(value.trim());
  if (match?.[1] === undefined || match[2] === undefined) throw badOption("checksum", value);
  return `${match[1].toLowerCase().replace("-", "")}:${match[2].toLowerCase()}`;
}

/**
 * `dir` relative to dlm serve's --dir: a relative dir is taken inside it, an absolute one must lie inside it.
 * A dir leading anywhere else is refused, so no client can make dlm write outside --dir (the manager checks
 * again, symlinks included, when it places the file).
 */
export function directoryOf(baseDir: string, dir: string): string {
  const target = resolve(baseDir, dir);
  const inside = relative(baseDir, target);
  if (inside.startsWith("..") || isAbsolute(inside) || /[\0]/.test(dir)) {
    throw new Aria2Fault(
      `dir ${JSON.stringify(dir)} is outside the download directory ${baseDir} of dlm serve`,
    );
  }
  return inside;
}

/** The options of an addUri or changeOption call in dlm's terms; `uris` is how many URIs the file has. */
export function mapOptions(options: Aria2Options, baseDir: string, uris = 1): MappedOptions {
  const dir = single(options, "dir");
  const out = single(options, "out");
  const split = single(options, "split");
  const perServer = single(options, "max-connection-per-server");
  const checksum = single(options, "checksum");
  const limit = single(options, "max-download-limit");
  const userAgent = single(options, "user-agent");
  const referer = single(options, "referer");
  const pause = single(options, "pause");
  const header = options.get("header");
  const headers: [string, string][] = [];
  for (const line of header === undefined ? [] : typeof header === "string" ? header.split("\n") : header) {
    if (line.trim() !== "") headers.push(headerOf(line));
  }
  if (userAgent !== undefined) headers.push(["User-Agent", userAgent]);
  if (referer !== undefined) headers.push(["Referer", referer]);
  if (out !== undefined && (out === "" || out.includes("\0"))) throw badOption("out", out);
  if (pause !== undefined && pause !== "true" && pause !== "false") throw badOption("pause", pause);
  // aria2 opens min(split, servers × max-connection-per-server) connections.
  const splitN = split === undefined ? undefined : count("split", split, MAX_CONNECTIONS);
  const perServerN =
    perServer === undefined ? undefined : count("max-connection-per-server", perServer, MAX_CONNECTIONS);
  const connections =
    splitN === undefined
      ? perServerN
      : perServerN === undefined
        ? splitN
        : Math.min(splitN, perServerN * Math.max(1, uris));
  return {
    ...(dir === undefined ? {} : { directory: directoryOf(baseDir, dir) }),
    ...(out === undefined ? {} : { output: out }),
    ...(connections === undefined ? {} : { connections }),
    ...(header === undefined && userAgent === undefined && referer === undefined ? {} : { headers }),
    ...(checksum === undefined ? {} : { checksum: checksumOf(checksum) }),
    ...(limit === undefined ? {} : { speedLimit: parseSize("max-download-limit", limit) }),
    paused: pause === "true",
    ignored: [...options.keys()].filter((name) => !MAPPED_OPTIONS.has(name)),
  };
}

/** What getOption shows for a download, in aria2's form. */
export interface OptionSource {
  readonly directory: string;
  readonly output: string | undefined;
  readonly connections: number;
  readonly defaultConnections: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly checksum: string | undefined;
  readonly speedLimit: number;
}

/** A download's options as aria2's getOption returns them (values as strings). */
export function optionsOf(source: OptionSource, baseDir: string): Record<string, string> {
  const out: Record<string, string> = {
    dir: join(baseDir, source.directory),
    split: String(source.connections === 0 ? source.defaultConnections : source.connections),
    "max-connection-per-server": String(
      source.connections === 0 ? source.defaultConnections : source.connections,
    ),
    "max-download-limit": String(source.speedLimit),
  };
  if (source.output !== undefined) out["out"] = source.output;
  const other: string[] = [];
  for (const [name, value] of source.headers) {
    const lower = name.toLowerCase();
    if (lower === "user-agent") out["user-agent"] = value;
    else if (lower === "referer") out["referer"] = value;
    else other.push(`${name}: ${value}`);
  }
  // aria2 sends the header option as one string, a line per header.
  if (other.length > 0) out["header"] = other.map((line) => `${line}\n`).join("");
  if (source.checksum !== undefined) {
    const [algorithm, hex] = source.checksum.split(":");
    out["checksum"] = `${(algorithm ?? "").replace(/^sha/, "sha-")}=${hex ?? ""}`;
  }
  return out;
}
