import { hostname } from "node:os";

/**
 * One process's hold on a node name among the nodes sharing a store: a random token of its own, with the
 * host and pid that let another process on the same host tell a holder that was killed (kill -9: no
 * release) from one that runs. Stored for the lease time and renewed by every heartbeat.
 */
export interface NodeClaim {
  readonly node: string;
  /** Random, per process: the lease is this process's, not every process's that uses the name. */
  readonly token: string;
  readonly host: string;
  readonly pid: number;
}

/** A new claim of `node` for this process. */
export function claimForThisProcess(node: string): NodeClaim {
  return { node, token: crypto.randomUUID(), host: hostname(), pid: process.pid };
}

/**
 * True when `other` (a claim whose lease has not run out) is known to be gone: it was made on this host by
 * a process that no longer exists. Its name may be taken at once (a restart after kill -9) instead of after
 * the lease; a claim of another host is trusted until its lease ends.
 */
export function claimGone(other: NodeClaim): boolean {
  if (other.host !== hostname() || other.pid === process.pid) return false;
  try {
    process.kill(other.pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as { code?: unknown }).code !== "EPERM";
  }
}
