/**
 * The endpoint file of a running download, kept apart from the control plane itself so that client
 * commands can read it without loading the servers (Elysia, Connect) at start-up.
 */

/** Contents of `FILE.dlm/control.json`: how clients reach a running download. */
export interface ControlFile {
  /** Base URL of the HTTP listener (REST, Connect and gRPC-Web over HTTP/1.1). */
  readonly http: string;
  /** Base URL of the RPC listener (gRPC, Connect and gRPC-Web over cleartext HTTP/2). */
  readonly rpc: string;
  readonly token: string;
  readonly pid: number;
}

/** Name of the endpoint file inside a download's sidecar directory. */
export const CONTROL_FILE = "control.json";
