/** One `Link: <URL>; rel=duplicate` entry (RFC 6249 §3): another place with the same file. */
export interface DuplicateLink {
  /** Absolute URL (a relative reference resolved against the response's URL). */
  readonly url: string;
  /** `pri` parameter (RFC 6249 §3.2), lower preferred; undefined when absent or not 1..999999. */
  readonly priority: number | undefined;
}

/**
 * The `rel=duplicate` links of a Link header value (RFC 8288 §3; several header lines arrive joined by ", ").
 * A comma inside `<…>` or a quoted string does not split links. Links that do not parse, whose URL does not
 * resolve against `base`, or whose rel lacks `duplicate` are skipped: a header is a hint, never a failure.
 * The scheme is not checked here (see url-scheme.ts where the mirrors are taken).
 */
export function duplicateLinks(value: string | null | undefined, base: string): DuplicateLink[] {
  if (value === null || value === undefined) return [];
  const links: DuplicateLink[] = [];
  for (const entry of splitLinks(value)) {
    const m = /^\s*<([^>]*)>(.*)$/s.exec(entry);
    if (m === null) continue;
    const params = parseParams(m[2] ?? "");
    const rel = params.get("rel");
    // rel is a space-separated list of relation types, case-insensitive (RFC 8288 §3.3).
    if (rel === undefined || !rel.toLowerCase().split(/\s+/).includes("duplicate")) continue;
    const url = URL.parse(m[1]?.trim() ?? "", base);
    if (url === null) continue;
    const pri = params.get("pri");
    const priority = pri !== undefined && /^\d{1,6}$/.test(pri) && Number(pri) >= 1 ? Number(pri) : undefined;
    links.push({ url: url.href, priority });
  }
  return links;
}

/** Splits at commas outside `<…>` and outside double quotes. */
function splitLinks(value: string): string[] {
  const parts: string[] = [];
  let current = "";
  let inUri = false;
  let inQuote = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? "";
    if (inQuote && c === "\\") {
      current += c + (value[i + 1] ?? "");
      i++;
      continue;
    }
    if (c === '"' && !inUri) inQuote = !inQuote;
    else if (c === "<" && !inQuote) inUri = true;
    else if (c === ">" && !inQuote) inUri = false;
    else if (c === "," && !inUri && !inQuote) {
      parts.push(current);
      current = "";
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts;
}

/** `; name=value; name="quoted"` parameters, names lower-cased; the first of a repeated name wins. */
function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([A-Za-z0-9!#$&+\-.^_`|~*]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*)))?\s*/gy;
  re.lastIndex = 0;
  const trimmed = text.trim();
  let at = 0;
  while (at < trimmed.length) {
    re.lastIndex = at;
    const m = re.exec(trimmed);
    if (m === null) break;
    const name = (m[1] ?? "").toLowerCase();
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
    if (!params.has(name)) params.set(name, raw);
    at = re.lastIndex;
  }
  return params;
}
