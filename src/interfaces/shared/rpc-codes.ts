import { Code, ConnectError } from "@connectrpc/connect";
import { DlmError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";

// The one table from dlm's failure kinds to Connect/gRPC codes: errors thrown by a service call (through the
// error interceptor) and the end of a progress stream of a failed download both read it, on every listener.

/** Connect code of each failure kind (`DlmError.code`, also a failed download's `error.code`). */
export const RPC_CODES: Readonly<Record<string, Code>> = {
  usage: Code.InvalidArgument,
  network: Code.Unavailable,
  http_status: Code.FailedPrecondition,
  storage: Code.ResourceExhausted,
  integrity: Code.DataLoss,
  remote_changed: Code.Aborted,
  state_file: Code.FailedPrecondition,
  range_not_supported: Code.FailedPrecondition,
  output_exists: Code.AlreadyExists,
  cancelled: Code.Canceled,
  failed_precondition: Code.FailedPrecondition,
  interrupted: Code.Unavailable,
  no_server: Code.Unavailable,
};

/** The Connect code of a failure kind; a kind the table does not know is INTERNAL. */
export function rpcCodeOf(kind: string | undefined): Code {
  return (kind === undefined ? undefined : RPC_CODES[kind]) ?? Code.Internal;
}

/** What a client is told about an error that is not dlm's own (a bug): no stack, no internals. */
export const INTERNAL_MESSAGE = "internal error (see the dlm process log)";

/**
 * The ConnectError a client gets for `error`: a ConnectError as it is; a DlmError with its kind's code (a kind
 * added later and missing from the table: INVALID_ARGUMENT when it is bad input, else FAILED_PRECONDITION) and
 * its one-line message; anything else INTERNAL with {@link INTERNAL_MESSAGE}.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof DlmError) {
    const fallback = error.exitCode === EXIT.USAGE ? Code.InvalidArgument : Code.FailedPrecondition;
    return new ConnectError(error.message, RPC_CODES[error.code] ?? fallback);
  }
  return new ConnectError(INTERNAL_MESSAGE, Code.Internal);
}
