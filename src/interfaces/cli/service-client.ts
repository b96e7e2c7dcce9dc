import type { Client, Interceptor } from "@connectrpc/connect";
import type { Context } from "../../context.ts";
import { NoServerError, UsageError } from "../../errors.ts";
import type { DownloadService } from "../../gen/dlm/v1/download_pb.ts";
import { requireServer, type ServeFile } from "./serve-home.ts";

// The Connect client, its HTTP/2 transport and the generated service are loaded only by the commands that
// call the daemon: they cost about a third of dlm's start-up, which every `dlm get` would otherwise pay.

/** How long one call may take, ms. */
const CALL_TIMEOUT_MS = 15_000;

/** A DownloadService client of the running daemon. */
export interface ServiceClient {
  readonly client: Client<typeof DownloadService>;
  readonly server: ServeFile;
}

/**
 * Connects to the daemon named in serve.json (Connect over HTTP/2 on its RPC listener, bearer token
 * added to every call). NoServerError when there is no serve.json or its process is gone.
 */
export async function connectToServer(ctx: Context): Promise<ServiceClient> {
  const server = await requireServer(ctx);
  const [{ createClient }, { createConnectTransport }, { DownloadService }] = await Promise.all([
    import("@connectrpc/connect"),
    import("@connectrpc/connect-node"),
    import("../../gen/dlm/v1/download_pb.ts"),
  ]);
  const auth: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${server.token}`);
    return next(request);
  };
  const transport = createConnectTransport({
    baseUrl: server.rpc,
    httpVersion: "2",
    interceptors: [auth],
    defaultTimeoutMs: CALL_TIMEOUT_MS,
  });
  return { client: createClient(DownloadService, transport), server };
}

/**
 * Runs `call`; a daemon that does not answer (it died without removing serve.json) becomes NoServerError,
 * bad input (INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE) a UsageError with the daemon's message.
 */
export async function callServer<T>(server: ServeFile, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // Loaded already: a call was made.
    const { Code, ConnectError } = await import("@connectrpc/connect");
    if (error instanceof ConnectError && error.code === Code.Unavailable) {
      throw new NoServerError(`dlm serve at ${server.rpc} does not answer; start one with: dlm serve`, {
        cause: error,
      });
    }
    if (
      error instanceof ConnectError &&
      (error.code === Code.InvalidArgument || error.code === Code.NotFound || error.code === Code.OutOfRange)
    ) {
      throw new UsageError(error.rawMessage, { cause: error });
    }
    throw error;
  }
}
