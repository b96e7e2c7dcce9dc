import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's nginx-light puts the binary. */
export const NGINX_BIN = "/usr/sbin/nginx";

/** A running nginx serving one directory on 127.0.0.1. */
export interface Nginx {
  /** Port it listens on (127.0.0.1 only). */
  readonly port: number;
  /** Full URL of `path` under the served directory. */
  url(path: string): string;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** How to serve: plain http (default), or https with this certificate and key (PEM files). */
export interface NginxOptions {
  readonly tls?: { readonly cert: string; readonly key: string };
  /** nginx `log_format` string for access.log in the temp dir (no single quotes); default nginx's "combined". */
  readonly accessLogFormat?: string;
}

/** True when the nginx binary exists, so tests can skip with a reason instead of failing. */
export function nginxAvailable(): boolean {
  return existsSync(NGINX_BIN);
}

const READY_MS = 5000;
const STOP_MS = 5000;
const PORT_ATTEMPTS = 5;

/**
 * Starts nginx as the current user serving `rootDir` (static files, sendfile on, Range and ETag as nginx does
 * them) on a free loopback port. All its files (config, pid, logs, temp paths) live in a fresh temp dir.
 * Resolves once it answers HTTP (at most ~5 s per attempt); throws with the error log if it does not.
 */
export async function startNginx(rootDir: string, options: NginxOptions = {}): Promise<Nginx> {
  if (!nginxAvailable())
    throw new Error(`nginx not found: apt-get install nginx-light (looked for ${NGINX_BIN})`);
  let lastError = "";
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    // The port can be taken between our probe and nginx's bind(); then we try another one.
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "dlm-nginx-"));
    await writeFile(join(dir, "nginx.conf"), config(dir, rootDir, port, options));
    const proc = Bun.spawn(
      [NGINX_BIN, "-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")],
      {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      },
    );
    const stderr = new Response(proc.stderr).text();
    const scheme = options.tls === undefined ? "http" : "https";
    const ready = await waitReady(`${scheme}://127.0.0.1:${port}/`, proc, join(dir, "nginx.pid"));
    if (ready) return running(`${scheme}://127.0.0.1:${port}`, port, dir, proc);
    await kill(proc);
    const log = await readFile(join(dir, "error.log"), "utf8").catch(() => "");
    lastError = `${(await stderr).trim()}\n${log.trim()}`.trim();
    await rm(dir, { recursive: true, force: true });
    if (!lastError.includes("Address already in use")) break;
  }
  throw new Error(`nginx did not start: ${lastError || "no output"}`);
}

function config(dir: string, rootDir: string, port: number, options: NginxOptions): string {
  const tls = options.tls;
  const listen =
    tls === undefined
      ? `listen 127.0.0.1:${port};`
      : `listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};`;
  const asRoot = process.getuid?.() === 0;
  return `${asRoot ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  ${accessLog(dir, options.accessLogFormat)}
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  default_type application/octet-stream;
  server {
    ${listen}
    server_name localhost;
    root ${rootDir};
    location / { }
  }
}
`;
}

function accessLog(dir: string, format: string | undefined): string {
  if (format === undefined) return `access_log ${dir}/access.log;`;
  if (format.includes("'"))
    throw new Error(`nginx: accessLogFormat must not contain a single quote: ${format}`);
  return `log_format custom '${format}';\n  access_log ${dir}/access.log custom;`;
}

/** A port the OS just handed out on 127.0.0.1 and that we released again. */
async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/**
 * Polls until the port answers as nginx and our nginx wrote its pid file (it does so only after binding, so
 * another nginx on a reused port is not mistaken for ours), or until the process exits.
 */
async function waitReady(url: string, proc: Bun.Subprocess, pidFile: string): Promise<boolean> {
  const deadline = performance.now() + READY_MS;
  while (performance.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
    try {
      // Readiness only: the test's own certificate is not trusted by this process.
      const res = await fetch(url, { signal: AbortSignal.timeout(500), tls: { rejectUnauthorized: false } });
      await res.arrayBuffer();
      if (res.headers.get("server")?.startsWith("nginx") && existsSync(pidFile)) return true;
    } catch {
      // Not listening yet.
    }
    await Promise.race([proc.exited, Bun.sleep(50)]);
  }
  return false;
}

/** SIGTERM (nginx's fast shutdown, which also ends its worker), then SIGKILL if it outlives the bound. */
async function kill(proc: Bun.Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(STOP_MS).then(() => false)]);
  if (!exited) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

function running(base: string, port: number, dir: string, proc: Bun.Subprocess): Nginx {
  let stopped: Promise<void> | undefined;
  return {
    port,
    url: (path) => `${base}${path.startsWith("/") ? path : `/${path}`}`,
    stop() {
      stopped ??= kill(proc).then(() => rm(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}
