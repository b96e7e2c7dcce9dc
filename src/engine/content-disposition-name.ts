import { decodeExtended, parse } from "content-disposition";

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The file name a Content-Disposition header suggests (RFC 6266), parsed by jshttp's `content-disposition`:
 * the RFC 8187 `filename*` form when it decodes, else `filename`. Returned raw (possibly "../x"): whether it
 * is safe to use is decided by output naming (output-name.ts), not here. `undefined` when the header is
 * absent, malformed, or names no file.
 */
export function dispositionFileName(header: string | null): string | undefined {
  if (header === null) return undefined;
  let parameters: Record<string, string>;
  try {
    parameters = parse(header).parameters;
  } catch {
    // A malformed header is only a naming hint lost: the URL's name is used instead.
    return undefined;
  }
  const extended = parameters["filename*"];
  // RFC 6266 §4.3: filename* is preferred; one that does not decode (bad escapes) falls back to filename.
  const decoded = extended === undefined ? undefined : decodeExtended(extended);
  if (decoded !== undefined) return decoded;
  const plain = parameters["filename"];
  return plain === undefined ? undefined : utf8FromLatin1(plain);
}

/**
 * Undoes a common server habit: raw UTF-8 bytes in a header value (`filename="файл.zip"`), which fetch hands
 * over byte for byte as latin1 code points ("Ñ\u0084Ð°Ð¹Ð».zip" in Bun 1.4.4). When every code point is a
 * byte and those bytes are valid UTF-8, the UTF-8 reading is returned; otherwise the text as it was (real
 * ISO-8859-1 text, like "été", is rarely valid UTF-8).
 */
export function utf8FromLatin1(text: string): string {
  if (!/[\u0080-\u00ff]/.test(text) || /[\u0100-\u{10ffff}]/u.test(text)) return text;
  const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0));
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return text;
  }
}
