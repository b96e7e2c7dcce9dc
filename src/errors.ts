import { EXIT, type ExitCode } from "./exit-codes.ts";

/** Facts an error keeps as data so callers and tests need not parse its message. */
export interface ErrorFields {
  readonly url?: string | undefined;
  readonly file?: string | undefined;
  readonly flag?: string | undefined;
  readonly input?: string | undefined;
  readonly expected?: string | undefined;
  readonly actual?: string | undefined;
  readonly segment?: number | undefined;
  readonly offset?: number | undefined;
  readonly status?: number | undefined;
  readonly hint?: string | undefined;
  readonly cause?: unknown | undefined;
}

/**
 * Why a connection failed, decided once where a foreign error enters dlm (engine/network-failure.ts):
 * `refused` (nothing listens), `dns` (the name does not resolve), `reset` (the peer cut the connection,
 * including a body that stopped before its framing said), `tls` (handshake or certificate), `timeout`
 * (no bytes within the stall timeout), `closed` (the peer closed before answering), `protocol` (an answer
 * that is not HTTP, or one the client refused).
 */
export type NetworkReason = "refused" | "dns" | "reset" | "tls" | "timeout" | "closed" | "protocol";

/**
 * Base of every error dlm raises on purpose. `message` is one line naming the thing and the value concerned;
 * `code` is stable for programs; `exitCode` comes from the one EXIT table.
 */
export abstract class DlmError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  readonly url: string | undefined;
  readonly file: string | undefined;
  readonly flag: string | undefined;
  readonly input: string | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  readonly segment: number | undefined;
  readonly offset: number | undefined;
  readonly status: number | undefined;
  readonly hint: string | undefined;

  constructor(message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.url = fields.url;
    this.file = fields.file;
    this.flag = fields.flag;
    this.input = fields.input;
    this.expected = fields.expected;
    this.actual = fields.actual;
    this.segment = fields.segment;
    this.offset = fields.offset;
    this.status = fields.status;
    this.hint = fields.hint;
  }
}

/** A flag, argument or combination of them is invalid; raised before any network or disk I/O. */
export class UsageError extends DlmError {
  readonly code = "usage";
  readonly exitCode = EXIT.USAGE;
}

/** The connection failed: refused, reset, DNS, TLS, stalled past the timeout, retries spent. */
export class NetworkError extends DlmError {
  readonly code = "network";
  readonly exitCode = EXIT.NETWORK;
  /** What kind of network failure; retry decisions use this, never the message. */
  readonly reason: NetworkReason;

  constructor(message: string, fields: ErrorFields & { readonly reason: NetworkReason }) {
    super(message, fields);
    this.reason = fields.reason;
  }
}

/** The server answered with a status dlm cannot use (404, 403, 5xx after retries...). */
export class HttpStatusError extends DlmError {
  readonly code = "http_status";
  readonly exitCode = EXIT.HTTP_STATUS;
  /** The server's Retry-After header as sent (RFC 9110 §10.2.3), when it sent one. */
  readonly retryAfter: string | undefined;

  constructor(message: string, fields: ErrorFields & { readonly retryAfter?: string | undefined } = {}) {
    super(message, fields);
    this.retryAfter = fields.retryAfter;
  }
}

/** The disk refused: full (ENOSPC), quota (EDQUOT), permissions, read-only filesystem. */
export class StorageError extends DlmError {
  readonly code = "storage";
  readonly exitCode = EXIT.STORAGE;
}

/** The bytes are not the file: size or checksum mismatch. Nothing is left under the final name. */
export class IntegrityError extends DlmError {
  readonly code = "integrity";
  readonly exitCode = EXIT.INTEGRITY;
}

/** The remote file changed (size, ETag or Last-Modified) while parts of the old one are on disk. */
export class RemoteChangedError extends DlmError {
  readonly code = "remote_changed";
  readonly exitCode = EXIT.REMOTE_CHANGED;
}

/** state.json is unreadable, of a foreign version, or describes impossible ranges. */
export class StateFileError extends DlmError {
  readonly code = "state_file";
  readonly exitCode = EXIT.STATE_FILE;
}

/** A byte range was asked of a server that does not honour Range (it answered 200 with the whole body). */
export class RangeNotSupportedError extends DlmError {
  readonly code = "range_not_supported";
  readonly exitCode = EXIT.RANGE_NOT_SUPPORTED;
}

/** The output file exists and `--force` was not given; nothing was touched. */
export class OutputExistsError extends DlmError {
  readonly code = "output_exists";
  readonly exitCode = EXIT.OUTPUT_EXISTS;
}

/** The download was cancelled through the control plane; the sidecar was removed. */
export class CancelledError extends DlmError {
  readonly code = "cancelled";
  readonly exitCode = EXIT.CANCELLED;
}

/**
 * A running download refused a control command in its current state (HTTP 409, FAILED_PRECONDITION): e.g.
 * a pause while the file is being verified. Nothing changed.
 */
export class CommandRefusedError extends DlmError {
  readonly code = "failed_precondition";
  readonly exitCode = EXIT.REFUSED;
}

/** Paused by SIGINT/SIGTERM (or the control plane) with the state saved; `dlm resume FILE` continues. */
export class InterruptedError extends DlmError {
  readonly code = "interrupted";
  readonly exitCode = EXIT.INTERRUPTED;
}

/** A client of `dlm serve` found no daemon (no serve.json, or nothing answers there); run `dlm serve`. */
export class NoServerError extends DlmError {
  readonly code = "no_server";
  readonly exitCode = EXIT.NO_SERVER;
}

/** Error code for anything dlm did not raise itself. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof DlmError ? error.exitCode : EXIT.UNEXPECTED;
}
