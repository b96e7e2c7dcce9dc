// Measures what one WatchAll client that never reads costs `dlm serve`: RSS of the daemon before and after
// ADDS adds of 60 KiB each while a raw HTTP/1.1 watcher holds its stream unread, then what it got once it reads.
// Run: bun test/serve/measure-slow-watcher.ts [ADDS]   (not a test: prints numbers)
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { envelope } from "../control/fixture.ts";
import { startOrigin } from "../helpers/origin.ts";
import { startServe, stopServe } from "./serve-fixture.ts";

const adds = Number(process.argv[2] ?? 1000);
const home = await mkdtemp(join(tmpdir(), "dlm-slow-home-"));
const dir = await mkdtemp(join(tmpdir(), "dlm-slow-dir-"));
const origin = await startOrigin();
const serve = await startServe(home, dir);
const rss = async () =>
  Number((await Bun.file(`/proc/${serve.child.pid}/status`).text()).match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
const at = new URL(serve.http);
const body = Buffer.from(envelope({}));
const socket = connect({ host: at.hostname, port: Number(at.port) });
let received = 0;
let tail = "";
socket.on("data", (data: Buffer) => {
  received += data.length;
  tail = (tail + data.toString("latin1")).slice(-300);
});
await new Promise((resolve) => socket.once("connect", resolve));
socket.write(
  `POST /dlm.v1.DownloadService/WatchAll HTTP/1.1\r\nHost: ${at.host}\r\nAuthorization: Bearer ${serve.token}\r\n` +
    `Content-Type: application/connect+json\r\nContent-Length: ${body.length}\r\n\r\n`,
);
socket.write(body);
await Bun.sleep(500);
socket.pause();
const before = await rss();
const url = origin.serve("/x.bin", { size: 1000 });
const pad = "p".repeat(60 * 1024);
for (let i = 0; i < adds; i++) {
  await serve.client.add({
    url,
    output: `x${i}.bin`,
    startPaused: true,
    headers: [{ name: "X-Pad", value: pad }],
  });
}
const after = await rss();
socket.resume();
await Bun.sleep(2000);
console.log(
  `${adds} adds of 60 KiB: daemon RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB; the watcher then read ` +
    `${(received / 2 ** 20).toFixed(1)} MiB, ending: ${/"code":"(\w+)"/.exec(tail)?.[1] ?? "(still open)"}`,
);
socket.destroy();
await stopServe(serve);
await origin.close();
await rm(home, { recursive: true, force: true });
await rm(dir, { recursive: true, force: true });
