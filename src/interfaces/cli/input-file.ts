import { UsageError } from "../../errors.ts";

/** One download of an input file. */
export interface InputEntry {
  readonly url: string;
  readonly out: string | undefined;
  readonly dir: string | undefined;
  /** "ALGO:HEX", as `--checksum` takes it. */
  readonly checksum: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  /** 1-based line of the URL, for messages. */
  readonly line: number;
}

/** What parsing found: the entries, and options dlm does not use (reported, not fatal). */
export interface ParsedInput {
  readonly entries: InputEntry[];
  readonly ignored: readonly string[];
}

/** aria2's digest names (`checksum=sha-256=HEX`) to dlm's. */
function checksumOf(value: string, line: number, source: string): string {
  const at = value.indexOf("=");
  if (at <= 0) throw bad(source, line, `checksum: expected TYPE=DIGEST, got ${JSON.stringify(value)}`);
  const type = value.slice(0, at).toLowerCase().replace(/^sha-/, "sha");
  return `${type}:${value.slice(at + 1)}`;
}

function bad(source: string, line: number, what: string): UsageError {
  return new UsageError(`${source}:${line}: ${what}`, { file: source, input: String(line) });
}

/**
 * Parses a download list in aria2's input-file format: a line with a URL starts an entry (a tab-separated
 * list of mirrors: dlm takes the first), indented `key=value` lines that follow set its options (`out`,
 * `dir`, `checksum=sha-256=HEX`, `header`); `#` starts a comment. Other aria2 options are listed in
 * `ignored` so lists made for aria2 still load.
 */
export function parseInputFile(text: string, source: string): ParsedInput {
  const entries: InputEntry[] = [];
  const ignored = new Set<string>();
  let current: { -readonly [K in keyof InputEntry]: InputEntry[K] } | undefined;
  const headers: [string, string][][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const line = i + 1;
    if (raw.trim() === "" || raw.trimStart().startsWith("#")) continue;
    if (!/^\s/.test(raw)) {
      const url = raw.trim().split("\t")[0] ?? "";
      if (!/^https?:\/\//i.test(url))
        throw bad(source, line, `expected an http(s) URL, got ${JSON.stringify(url)}`);
      current = { url, out: undefined, dir: undefined, checksum: undefined, headers: [], line };
      headers.push([]);
      entries.push(current);
      continue;
    }
    if (current === undefined) throw bad(source, line, "an option line before any URL");
    const option = raw.trim();
    const at = option.indexOf("=");
    if (at <= 0) throw bad(source, line, `expected key=value, got ${JSON.stringify(option)}`);
    const key = option.slice(0, at).trim();
    const value = option.slice(at + 1).trim();
    if (key === "out") current.out = value;
    else if (key === "dir") current.dir = value;
    else if (key === "checksum") current.checksum = checksumOf(value, line, source);
    else if (key === "header") {
      const colon = value.indexOf(":");
      if (colon <= 0) throw bad(source, line, `header: expected "Name: value", got ${JSON.stringify(value)}`);
      headers.at(-1)?.push([value.slice(0, colon).trim(), value.slice(colon + 1).trim()]);
      current.headers = headers.at(-1) ?? [];
    } else ignored.add(key);
  }
  return { entries, ignored: [...ignored] };
}
