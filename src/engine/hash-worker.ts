/**
 * Worker thread that hashes the output's completed prefix as it grows (hash on arrival; the session and
 * its protocol are in hash-session.ts), so the download thread never spends its time on SHA-256 of a large
 * file: on a 2-core machine that is the difference between hashing being free and hashing halving the
 * throughput.
 */
import { parentPort } from "node:worker_threads";
import { type HashWorkerReply, hashSession } from "./hash-session.ts";

export type { HashWorkerReply, HashWorkerRequest } from "./hash-session.ts";

const BUFFER_BYTES = 4 << 20;

if (parentPort !== null) {
  const port = parentPort;
  const handle = hashSession((message: HashWorkerReply) => port.postMessage(message), BUFFER_BYTES);
  port.on("message", handle);
}
