import { UsageError } from "../errors.ts";
import type { RecordPatch } from "./download-record.ts";
import type { HeaderList } from "./secret-headers.ts";

/** Most request headers one download keeps. */
export const MAX_HEADERS = 64;

/** Most bytes of all names and values of one download's headers together (servers refuse far less). */
export const MAX_HEADER_BYTES = 32 * 1024;

/** A header name (RFC 9110 §5.1 token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Checks a number the API takes: an integer in `min`..2^53−1 (Number.MAX_SAFE_INTEGER), the largest every
 * layer (JavaScript, SQLite, the uint64 wire fields) carries exactly. A wire value of 2^64−1 arrives here as
 * 1.8e19 and is refused, naming the field.
 */
export function checkBounded(field: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${field}: expected an integer ${min === 0 ? "0" : String(min)}..${Number.MAX_SAFE_INTEGER}, got ${value}`,
      { flag: field, input: String(value) },
    );
  }
}

/**
 * Checks request headers before they are stored: at most MAX_HEADERS, MAX_HEADER_BYTES together, names
 * that are tokens, values without CR, LF or NUL (each would end the header line early).
 */
export function checkHeaders(headers: HeaderList): void {
  if (headers.length > MAX_HEADERS) {
    throw new UsageError(`headers: at most ${MAX_HEADERS}, got ${headers.length}`, { flag: "headers" });
  }
  let bytes = 0;
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) {
      throw new UsageError(`headers: not a header name: ${JSON.stringify(name.slice(0, 64))}`, {
        flag: "headers",
        input: name.slice(0, 64),
      });
    }
    if (/[\r\n\0]/.test(value)) {
      throw new UsageError(`headers: the value of ${name} holds a line break or NUL`, { flag: "headers" });
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  if (bytes > MAX_HEADER_BYTES) {
    throw new UsageError(`headers: at most ${MAX_HEADER_BYTES} bytes together, got ${bytes}`, {
      flag: "headers",
      input: String(bytes),
    });
  }
}

/** Checks the numbers and headers of an Add or an Update (fields absent from `input` are not checked). */
export function checkInput(
  input: Partial<Pick<RecordPatch, "connections" | "speedLimit" | "priority" | "position" | "headers">>,
): void {
  if (input.connections !== undefined) checkBounded("connections", input.connections);
  if (input.speedLimit !== undefined) checkBounded("speed_limit", input.speedLimit);
  if (input.priority !== undefined) checkBounded("priority", input.priority, -Number.MAX_SAFE_INTEGER);
  if (input.position !== undefined) checkBounded("position", input.position);
  if (input.headers !== undefined) checkHeaders(input.headers);
}
