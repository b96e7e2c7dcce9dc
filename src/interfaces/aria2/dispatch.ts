import { DlmError } from "../../errors.ts";
import { Aria2Fault, INVALID_REQUEST, PARSE_ERROR, UNAUTHORIZED } from "./aria2-fault.ts";
import type { Aria2Session } from "./aria2-session.ts";
import { CONTROL_METHODS } from "./control-methods.ts";
import { NOTIFICATIONS } from "./notifications.ts";
import type { Params } from "./params.ts";
import { READ_METHODS } from "./read-methods.ts";
import type { RpcSecret } from "./secret.ts";

type Handler = (session: Aria2Session, params: Params) => Promise<unknown>;

const METHODS: ReadonlyMap<string, Handler> = new Map(
  Object.entries({ ...CONTROL_METHODS, ...READ_METHODS }),
);

/** Every method name, as system.listMethods lists them (aria2's order does not matter to clients). */
export const METHOD_NAMES: readonly string[] = [
  ...METHODS.keys(),
  "system.multicall",
  "system.listMethods",
  "system.listNotifications",
];

/** Methods aria2 answers without the secret: they only describe the protocol. */
const OPEN_METHODS = new Set(["system.listMethods", "system.listNotifications"]);

/** A JSON-RPC answer and the HTTP status aria2 sends it with (400 for a single failed call). */
export interface Answer {
  readonly status: 200 | 400 | 500;
  readonly body: unknown;
}

interface ErrorBody {
  readonly code: number;
  readonly message: string;
}

/**
 * aria2's JSON-RPC: one call or a batch, the secret checked on every call (system.multicall's inner calls
 * included), aria2's error codes and messages, failures of dlm (a DlmError: an output outside --dir, a bad
 * checksum) passed on as code 1 with their one-line message.
 */
export class Aria2Dispatcher {
  readonly #session: Aria2Session;
  readonly #secret: RpcSecret;

  constructor(session: Aria2Session, secret: RpcSecret) {
    this.#session = session;
    this.#secret = secret;
  }

  /** Answers a request body (POST or WebSocket text). */
  async text(text: string): Promise<Answer> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return { status: 500, body: { id: null, jsonrpc: "2.0", error: PARSE_ERROR } };
    }
    return this.message(message);
  }

  /** Answers a parsed request: an object, or an array of them (a batch, always HTTP 200). */
  async message(message: unknown): Promise<Answer> {
    if (Array.isArray(message)) {
      const answers: unknown[] = [];
      for (const one of message) answers.push((await this.#one(one)).body);
      return { status: 200, body: answers };
    }
    return this.#one(message);
  }

  async #one(request: unknown): Promise<Answer> {
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      return { status: 400, body: { id: null, jsonrpc: "2.0", error: INVALID_REQUEST } };
    }
    const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof method !== "string" || (params !== undefined && !Array.isArray(params))) {
      return { status: 400, body: { id: id ?? null, jsonrpc: "2.0", error: INVALID_REQUEST } };
    }
    try {
      const result = await this.call(method, params ?? [], false);
      return { status: 200, body: { id: id ?? null, jsonrpc: "2.0", result } };
    } catch (error) {
      return { status: 400, body: { id: id ?? null, jsonrpc: "2.0", error: this.#errorBody(method, error) } };
    }
  }

  #errorBody(method: string, error: unknown): ErrorBody {
    if (error instanceof Aria2Fault) return { code: error.code, message: error.message };
    if (error instanceof DlmError) return { code: 1, message: error.message };
    this.#session.deps.log.error("aria2: {method} failed: {error}", { method, error });
    return {
      code: 1,
      message: `${method} failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }

  /** Runs one method with its raw params (the secret first); throws an Aria2Fault the way aria2 fails. */
  async call(method: string, params: readonly unknown[], nested: boolean): Promise<unknown> {
    if (OPEN_METHODS.has(method)) {
      return method === "system.listMethods" ? [...METHOD_NAMES] : [...NOTIFICATIONS];
    }
    if (method === "system.multicall") {
      if (nested) throw new Aria2Fault("Recursive system.multicall forbidden.");
      return this.#multicall(params[0]);
    }
    const handler = METHODS.get(method);
    if (handler === undefined) throw new Aria2Fault(`No such method: ${method}`);
    if (!this.#secret.matches(params[0])) throw new Aria2Fault(UNAUTHORIZED);
    return handler(this.#session, params.slice(1));
  }

  /** system.multicall: each call's result in a one-element list, or its error struct. */
  async #multicall(calls: unknown): Promise<unknown[]> {
    if (!Array.isArray(calls)) throw new Aria2Fault("system.multicall expected an array of structs");
    const results: unknown[] = [];
    for (const call of calls) {
      const { methodName, params } = (typeof call === "object" && call !== null ? call : {}) as {
        methodName?: unknown;
        params?: unknown;
      };
      try {
        if (typeof methodName !== "string") throw new Aria2Fault("Missing methodName.");
        if (params !== undefined && !Array.isArray(params)) throw new Aria2Fault("params must be an array.");
        results.push([await this.call(methodName, params ?? [], true)]);
      } catch (error) {
        results.push(this.#errorBody(String(methodName), error));
      }
    }
    return results;
  }
}
