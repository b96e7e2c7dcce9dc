import { open, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The access-log format the bench starts nginx with (test/helpers/nginx.ts `accessLogFormat`): the time the
 * line was written and the request's duration (both ms resolution), the status and the body bytes sent.
 */
export const ACCESS_LOG_FORMAT = "$msec $request_time $status $body_bytes_sent";

/** What nginx served after a mark. */
export interface Served {
  /** Sum of $body_bytes_sent (includes aborted responses' partial bodies). */
  bytes: number;
  /**
   * Epoch ms at which the earliest request that sent body bytes arrived ($msec − $request_time: nginx counts a
   * request's time from the first byte read from the client). nginx sends a static file's first byte within a
   * millisecond of that, so this stands for "first body byte sent". Undefined when no line sent body bytes.
   */
  firstBodyRequestAtEpochMs: number | undefined;
}

/**
 * nginx's access log, for the unthrottled scenario, where no pacer sees the bytes. test/helpers/nginx.ts keeps
 * the log in its own temp dir (`$TMPDIR/dlm-nginx-XXXX/access.log`) and does not expose the path, so the dir is
 * found by the port in its nginx.conf.
 */
export interface AccessLog {
  /** Current end of the log, to pass to servedSince later. */
  mark(): Promise<number>;
  /** Totals over the lines written after `mark`. */
  servedSince(mark: number): Promise<Served>;
}

/** Parses lines in ACCESS_LOG_FORMAT; other lines are ignored. */
export function parseAccessLog(text: string): Served {
  let bytes = 0;
  let first: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^(\d+\.\d+) (\d+\.\d+) (\d{3}) (\d+)$/.exec(line.trim());
    if (m === null) continue;
    const sent = Number(m[4]);
    bytes += sent;
    if (sent === 0) continue;
    const arrived = Math.round((Number(m[1]) - Number(m[2])) * 1000);
    first = first === undefined ? arrived : Math.min(first, arrived);
  }
  return { bytes, firstBodyRequestAtEpochMs: first };
}

/** Finds the access log of the nginx listening on `port`, or undefined when it cannot be found. */
export async function findAccessLog(port: number): Promise<AccessLog | undefined> {
  const base = tmpdir();
  const names = await readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith("dlm-nginx-")) continue;
    const conf = await readFile(join(base, name, "nginx.conf"), "utf8").catch(() => "");
    if (conf.includes(`listen 127.0.0.1:${port};`)) return accessLog(join(base, name, "access.log"));
  }
  return undefined;
}

function accessLog(path: string): AccessLog {
  return {
    mark: async () => (await stat(path).catch(() => undefined))?.size ?? 0,
    async servedSince(mark) {
      const handle = await open(path, "r");
      try {
        const size = (await handle.stat()).size;
        const buf = new Uint8Array(Math.max(0, size - mark));
        await handle.read(buf, 0, buf.length, mark);
        return parseAccessLog(new TextDecoder().decode(buf));
      } finally {
        await handle.close();
      }
    },
  };
}
