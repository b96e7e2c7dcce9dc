/**
 * aria2's JSON-RPC error answers. aria2 answers almost every failure of a method with code 1 and a
 * one-line message; the JSON-RPC 2.0 codes (-32700 parse, -32600 invalid request, -32602 invalid params)
 * are for envelopes it cannot read.
 */

/** A method failed the way aria2 reports it: `{code, message}` in the answer's `error`. */
export class Aria2Fault extends Error {
  readonly code: number;

  constructor(message: string, code = 1) {
    super(message);
    this.name = "Aria2Fault";
    this.code = code;
  }
}

/** aria2's answer to a missing or wrong secret. */
export const UNAUTHORIZED = "Unauthorized";

/** "GID … is not found", as aria2 words it. */
export function gidNotFound(gid: string): Aria2Fault {
  return new Aria2Fault(`GID ${gid} is not found`);
}

/** JSON-RPC 2.0 envelope errors, with aria2's messages. */
export const PARSE_ERROR = { code: -32700, message: "Parse error." } as const;
export const INVALID_REQUEST = { code: -32600, message: "Invalid Request." } as const;
