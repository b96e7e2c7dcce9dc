import { DOMParser, type Element } from "@xmldom/xmldom";
import { UsageError } from "../errors.ts";
import type { ChecksumAlgorithm, ExpectedChecksum } from "./checksum.ts";
import type { PieceHashes } from "./piece-hashes.ts";

/** Namespace of Metalink 4 (RFC 5854 §4). */
const METALINK4 = "urn:ietf:params:xml:ns:metalink";
/** Namespace of Metalink 3.0 (the metalinker.org specification it replaced). */
const METALINK3 = "http://www.metalinker.org/";

/** One `<url>` of a file: where to fetch it, and how much it is preferred. */
export interface MetalinkUrl {
  readonly url: string;
  /** RFC 5854 §4.2.16.2 priority, 1 (most preferred) to 999999; undefined when absent. */
  readonly priority: number | undefined;
  /** ISO 3166-1 alpha-2 country code (§4.2.16.1), informational. */
  readonly location: string | undefined;
}

/** One `<file>` of a Metalink, as described (the name is not yet judged safe as a path). */
export interface MetalinkFile {
  /** `name` attribute as written: may hold directory parts (§4.1.2.1). */
  readonly name: string;
  /** `<size>` in bytes, when given. */
  readonly size: number | undefined;
  /** Its http(s) URLs, most preferred first (priority ascending, then document order). */
  readonly urls: readonly MetalinkUrl[];
  /** The whole-file hash of the strongest type dlm knows, when any. */
  readonly hash: ExpectedChecksum | undefined;
  /** Piece hashes of the strongest type dlm knows, when any. */
  readonly pieces: PieceHashes | undefined;
}

/** IANA hash names (RFC 5854 §4.2.4 and Metalink 3's names) dlm verifies, strongest first. */
const HASH_TYPES: readonly (readonly [string, ChecksumAlgorithm])[] = [
  ["sha-512", "sha512"],
  ["sha512", "sha512"],
  ["sha-256", "sha256"],
  ["sha256", "sha256"],
  ["sha-1", "sha1"],
  ["sha1", "sha1"],
  ["md5", "md5"],
];

const HEX_LENGTH: Record<string, number> = { sha512: 128, sha256: 64, sha1: 40, md5: 32 };

/** Largest Metalink document dlm reads (bytes): piece lists of big files run to a few MB, never more. */
export const MAX_METALINK_BYTES = 16 << 20;

/**
 * Parses a Metalink 4 (RFC 5854) or Metalink 3.0 document into its files. Only http and https URLs are kept
 * (others, and `<metaurl>` torrents, are skipped). Throws a UsageError naming `where` (the file or URL it came
 * from) when the text is not well-formed XML, is no Metalink, holds no file, or a file has no name, no http(s)
 * URL, a size that is not a byte count, or a hash that is not hex of its type's length.
 */
export function parseMetalink(text: string, where: string): MetalinkFile[] {
  const bad = (why: string): UsageError =>
    new UsageError(`--metalink: ${where}: ${why}`, { flag: "--metalink", input: where });
  let root: Element | null;
  try {
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== "warning") throw new Error(message);
      },
    }).parseFromString(text, "application/xml");
    root = doc.documentElement;
  } catch (error) {
    throw bad(`not well-formed XML (${firstLine(error)})`);
  }
  if (root === null || root.localName !== "metalink") throw bad("not a Metalink document (no <metalink>)");
  const ns = root.namespaceURI;
  if (ns !== METALINK4 && ns !== METALINK3) {
    throw bad(`not a Metalink 4 or 3.0 document (namespace ${JSON.stringify(ns ?? "")})`);
  }
  const v3 = ns === METALINK3;
  const files = root.getElementsByTagNameNS(ns, "file");
  if (files.length === 0) throw bad("it describes no <file>");
  const parsed: MetalinkFile[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files.item(i);
    if (file !== null) parsed.push(parseFile(file, ns, v3, bad));
  }
  return parsed;
}

function parseFile(file: Element, ns: string, v3: boolean, bad: (why: string) => UsageError): MetalinkFile {
  const name = file.getAttribute("name") ?? "";
  if (name.trim() === "") throw bad("a <file> has no name");
  const at = (why: string) => bad(`file ${JSON.stringify(name)}: ${why}`);
  const sizeText = textOf(child(file, ns, "size"));
  let size: number | undefined;
  if (sizeText !== undefined) {
    size = /^\d{1,16}$/.test(sizeText) ? Number(sizeText) : Number.NaN;
    if (!Number.isSafeInteger(size)) throw at(`<size> ${JSON.stringify(sizeText)} is not a byte count`);
  }
  // Metalink 3 nests hashes in <verification> and urls in <resources>; 4 puts them right under <file>.
  const hashParent = v3 ? child(file, ns, "verification") : file;
  const urlParent = v3 ? child(file, ns, "resources") : file;
  const urls: MetalinkUrl[] = [];
  for (const el of urlParent === undefined ? [] : children(urlParent, ns, "url")) {
    const url = URL.parse(textOf(el) ?? "");
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    urls.push({
      url: url.href,
      priority: priorityOf(el, v3),
      location: el.getAttribute("location") ?? undefined,
    });
  }
  if (urls.length === 0) throw at("no http or https <url>");
  // Array.prototype.sort is stable: equal priorities keep document order.
  urls.sort((a, b) => (a.priority ?? 999_999) - (b.priority ?? 999_999));
  const hashes = hashParent === undefined ? [] : children(hashParent, ns, "hash");
  const hash = strongest(
    hashes.map((el) => ({ type: el.getAttribute("type") ?? "", el })),
    (choice, algorithm) => {
      const hex = (textOf(choice.el) ?? "").toLowerCase();
      if (!isHex(hex, algorithm)) throw at(`<hash type="${choice.type}"> is not a ${algorithm} digest`);
      return { algorithm, hex };
    },
  );
  const pieceSets = hashParent === undefined ? [] : children(hashParent, ns, "pieces");
  const pieces = strongest(
    pieceSets.map((el) => ({ type: el.getAttribute("type") ?? "", el })),
    (choice, algorithm) => {
      const length = Number(choice.el.getAttribute("length") ?? "");
      if (!Number.isSafeInteger(length) || length <= 0) throw at("<pieces> without a positive length");
      const list = children(choice.el, ns, "hash").map((el) => (textOf(el) ?? "").toLowerCase());
      const wrong = list.findIndex((hex) => !isHex(hex, algorithm));
      if (wrong >= 0) throw at(`piece ${wrong} is not a ${algorithm} digest`);
      if (size !== undefined && list.length !== Math.ceil(size / length)) {
        throw at(`${list.length} piece hashes of ${length} bytes for ${size} bytes`);
      }
      return { algorithm, length, hashes: list };
    },
  );
  return { name, size, urls, hash, pieces };
}

/** Applies `take` to the candidate of the strongest known type, if any. */
function strongest<C extends { readonly type: string }, T>(
  candidates: readonly C[],
  take: (choice: C, algorithm: ChecksumAlgorithm) => T,
): T | undefined {
  for (const [type, algorithm] of HASH_TYPES) {
    const choice = candidates.find((c) => c.type.toLowerCase() === type);
    if (choice !== undefined) return take(choice, algorithm);
  }
  return undefined;
}

/** Priority of a `<url>`: Metalink 4's `priority` (1 best), or Metalink 3's `preference` (100 best) turned around. */
function priorityOf(el: Element, v3: boolean): number | undefined {
  const raw = el.getAttribute(v3 ? "preference" : "priority");
  if (raw === null || !/^\d{1,6}$/.test(raw.trim())) return undefined;
  const n = Number(raw.trim());
  if (v3) return n <= 100 ? 101 - n : undefined;
  return n >= 1 ? n : undefined;
}

function isHex(hex: string, algorithm: ChecksumAlgorithm): boolean {
  return hex.length === HEX_LENGTH[algorithm] && /^[0-9a-f]+$/.test(hex);
}

/** Direct children of `parent` named `name` in `ns`. */
function children(parent: Element, ns: string, name: string): Element[] {
  const found: Element[] = [];
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    const el = node as Element;
    if (node.nodeType === 1 && el.localName === name && el.namespaceURI === ns) found.push(el);
  }
  return found;
}

function child(parent: Element, ns: string, name: string): Element | undefined {
  return children(parent, ns, name)[0];
}

function textOf(el: Element | undefined): string | undefined {
  const text = el?.textContent?.trim();
  return text === undefined || text === "" ? undefined : text;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}
