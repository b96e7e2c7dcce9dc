import { open, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Body bytes nginx sent, read from its access log. test/helpers/nginx.ts keeps the log in its own temp dir
 * (`$TMPDIR/dlm-nginx-XXXX/access.log`, default "combined" format) and does not expose the path, so the dir is
 * found by the port in its nginx.conf. Used for the unthrottled scenario, where no pacer counts bytes.
 */
export interface AccessLog {
  /** Current end of the log, to pass to bytesSince later. */
  mark(): Promise<number>;
  /** Sum of $body_bytes_sent over the lines written after `mark` (includes aborted responses' partial bodies). */
  bytesSince(mark: number): Promise<number>;
}

// combined: $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" ...
const LINE = /" (\d{3}) (\d+) "/;

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
    async bytesSince(mark) {
      const handle = await open(path, "r");
      try {
        const size = (await handle.stat()).size;
        const buf = new Uint8Array(Math.max(0, size - mark));
        await handle.read(buf, 0, buf.length, mark);
        let sum = 0;
        for (const line of new TextDecoder().decode(buf).split("\n")) {
          const m = LINE.exec(line);
          if (m !== null) sum += Number(m[2]);
        }
        return sum;
      } finally {
        await handle.close();
      }
    },
  };
}
