import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@logtape/logtape";
import { DlmError } from "../../errors.ts";
import { toConnectError } from "../shared/rpc-codes.ts";

/**
 * The one place a service's failure becomes a Connect error, on both listeners: thrown by a unary call or in
 * the middle of a stream, it is mapped through the one code table (shared/rpc-codes.ts). An error that is not
 * dlm's own is logged here with its stack and reaches the client as INTERNAL without it.
 */
export function errorInterceptor(log: Logger): Interceptor {
  const map = (error: unknown): ConnectError => {
    if (!(error instanceof ConnectError) && !(error instanceof DlmError)) {
      log.error("RPC failed: {error}", { error });
    }
    return toConnectError(error);
  };
  return (next) => async (request) => {
    try {
      const response = await next(request);
      if (!response.stream) return response;
      return { ...response, message: mapped(response.message, map) };
    } catch (error) {
      throw map(error);
    }
  };
}

async function* mapped<T>(
  messages: AsyncIterable<T>,
  map: (error: unknown) => ConnectError,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}
