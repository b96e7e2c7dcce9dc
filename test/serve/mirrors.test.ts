import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, type ConnectError } from "@connectrpc/connect";
import { EXIT } from "../../src/exit-codes.ts";
import { DownloadState } from "../../src/gen/dlm/v1/download_pb.ts";
import { bytesOf, sha256Hex } from "../helpers/bytes.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { rawOrigins, serveBody } from "../helpers/raw-origins.ts";
import { type ServeProcess, startServe } from "./serve-fixture.ts";

// Mirrors and Metalink through the manager (issue 21 item 5): Add carries mirrors and a Metalink document,
// Download shows the mirrors, `dlm add --mirror/--metalink` reach them; real `dlm serve`, real servers.
const BODY = bytesOf(0, 300_000 - 1);
const SHA = sha256Hex(BODY);
const dirs = tempDirs("dlm-serve-mirrors-");
const origin = rawOrigins();
const running: ServeProcess[] = [];

afterAll(async () => {
  for (const serve of running) serve.child.kill("SIGKILL");
  await dirs.removeAll();
});

async function serveIn() {
  const home = await dirs.fresh();
  const dir = await dirs.fresh();
  const serve = await startServe(home, dir);
  running.push(serve);
  return { serve, home, dir };
}

/** Polls every 50 ms (bounded) until the download is finished. */
async function finished(serve: ServeProcess, id: bigint): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const { download } = await serve.client.get({ id });
    if (download?.state === DownloadState.FINISHED) return;
    if (download?.state === DownloadState.FAILED) throw new Error(download.failure?.message);
    if (performance.now() > deadline) throw new Error(`download ${id} not finished: ${serve.stderr()}`);
    await Bun.sleep(50);
  }
}

function meta4(name: string, urls: readonly string[]): string {
  const list = urls.map((u, i) => `<url priority="${i + 1}">${u}</url>`).join("");
  return `<?xml version="1.0"?><metalink xmlns="urn:ietf:params:xml:ns:metalink"><file name="${name}"><size>${BODY.length}</size><hash type="sha-256">${SHA}</hash>${list}</file></metalink>`;
}

describe("Add with mirrors and Metalink", () => {
  test("Add mirrors: kept on the Download, probed by the run, the exact file; a file:// mirror is refused", async () => {
    const { serve, dir } = await serveIn();
    const main = await origin(serveBody(BODY));
    const mirror = await origin(serveBody(BODY));
    const { download } = await serve.client.add({
      url: main.url("/m.bin"),
      mirrors: [mirror.url("/m.bin")],
      connections: 2,
    });
    expect(download?.mirrors).toEqual([mirror.url("/m.bin")]);
    await finished(serve, download?.id ?? 0n);
    expect(sha256Hex(await readFile(join(dir, "m.bin")))).toBe(SHA);
    expect(mirror.requests.length).toBeGreaterThan(0);
    const listed = await serve.client.get({ id: download?.id ?? 0n });
    expect(listed.download?.mirrors).toEqual([mirror.url("/m.bin")]);

    const refused = await serve.client
      .add({ url: main.url("/x.bin"), mirrors: ["file:///etc/passwd"] })
      .catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe(Code.InvalidArgument);
    expect((refused as ConnectError).message).toContain("file:///etc/passwd");
  });

  test("Add a Metalink document: url, mirrors, checksum and a safe name from it; url and metalink together refused", async () => {
    const { serve, dir } = await serveIn();
    const main = await origin(serveBody(BODY));
    const mirror = await origin(serveBody(BODY));
    const { download } = await serve.client.add({
      metalink: meta4("../../etc/meta.bin", [main.url("/a"), mirror.url("/a")]),
    });
    expect(download?.url).toBe(main.url("/a"));
    expect(download?.mirrors).toEqual([mirror.url("/a")]);
    expect(download?.checksum).toBe(`sha256:${SHA}`);
    expect(download?.output).toBe("meta.bin");
    await finished(serve, download?.id ?? 0n);
    expect(sha256Hex(await readFile(join(dir, "meta.bin")))).toBe(SHA);

    const both = await serve.client
      .add({ url: main.url("/a"), metalink: meta4("b.bin", [main.url("/a")]) })
      .catch((e: unknown) => e);
    expect((both as ConnectError).code).toBe(Code.InvalidArgument);
    const broken = await serve.client.add({ metalink: "<metalink" }).catch((e: unknown) => e);
    expect((broken as ConnectError).code).toBe(Code.InvalidArgument);
  });

  test("dlm add URL --mirror and dlm add --metalink FILE", async () => {
    const { serve, home, dir } = await serveIn();
    const main = await origin(serveBody(BODY));
    const mirror = await origin(serveBody(BODY));
    const env = { DLM_HOME: home };
    const added = await runDlm(
      ["add", main.url("/c.bin"), "--mirror", mirror.url("/c.bin"), "--paused", "--json"],
      { cwd: dir, env },
    );
    expect(added.exitCode).toBe(EXIT.OK);
    const id = BigInt(JSON.parse(added.stdout.trim()).id as number);
    expect((await serve.client.get({ id })).download?.mirrors).toEqual([mirror.url("/c.bin")]);

    await Bun.write(join(dir, "x.meta4"), meta4("d.bin", [main.url("/d"), mirror.url("/d")]));
    const fromMeta = await runDlm(["add", "--metalink", "x.meta4", "--json"], { cwd: dir, env });
    expect(fromMeta.exitCode).toBe(EXIT.OK);
    const metaId = BigInt(JSON.parse(fromMeta.stdout.trim()).id as number);
    const { download } = await serve.client.get({ id: metaId });
    expect(download?.mirrors).toEqual([mirror.url("/d")]);
    expect(download?.checksum).toBe(`sha256:${SHA}`);
    await finished(serve, metaId);
    expect(sha256Hex(await readFile(join(dir, "d.bin")))).toBe(SHA);

    const twoUrls = await runDlm(["add", main.url("/e"), main.url("/f"), "--mirror", mirror.url("/e")], {
      cwd: dir,
      env,
    });
    expect(twoUrls.exitCode).toBe(EXIT.USAGE);
  });
});
