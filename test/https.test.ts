import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { EXIT } from "../src/exit-codes.ts";
import { sha256Of, writeFileOf } from "./helpers/bytes.ts";
import { makeCertificate, opensslAvailable } from "./helpers/certificate.ts";
import { listDir, makeTempDir, removeDir, runDlm } from "./helpers/cli.ts";
import { type Nginx, nginxAvailable, startNginx } from "./helpers/nginx.ts";

// https through fetch, against nginx with certificates made
// here by openssl: one for 127.0.0.1 and one for another name.
const SIZE = 6_000_007;
const ready = nginxAvailable() && opensslAvailable();
let dir = "";
let good: Nginx | undefined;
let wrongName: Nginx | undefined;

beforeAll(async () => {
  if (!ready) return;
  dir = await makeTempDir("dlm-https-");
  await writeFileOf(join(dir, "file.bin"), SIZE);
  good = await startNginx(dir, { tls: makeCertificate(dir, "local", "IP:127.0.0.1") });
  wrongName = await startNginx(dir, { tls: makeCertificate(dir, "other", "DNS:other.example") });
});

afterAll(async () => {
  await good?.stop();
  await wrongName?.stop();
  if (dir !== "") await removeDir(dir);
});

describe.skipIf(!ready)("https", () => {
  test(`a trusted certificate downloads the right bytes over 4 connections`, async () => {
    const out = await makeTempDir();
    const run = await runDlm(["get", good?.url("/file.bin") ?? "", "-o", "f.bin", "-c", "4", "--quiet"], {
      cwd: out,
      env: { NODE_EXTRA_CA_CERTS: join(dir, "local.pem") },
    });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(EXIT.OK);
    expect(run.stdout).toContain(`sha256 ${sha256Of(SIZE)}`);
    await removeDir(out);
  });

  test(`an untrusted certificate is refused with one line naming the certificate problem, nothing written`, async () => {
    const out = await makeTempDir();
    const run = await runDlm(["get", good?.url("/file.bin") ?? "", "-o", "f.bin", "--retries", "1"], {
      cwd: out,
      env: {},
    });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/self.signed/i);
    expect(await listDir(out)).toEqual([]);
    await removeDir(out);
  });

  test(`a certificate for another name is refused`, async () => {
    const out = await makeTempDir();
    const run = await runDlm(["get", wrongName?.url("/file.bin") ?? "", "-o", "f.bin", "--retries", "1"], {
      cwd: out,
      env: { NODE_EXTRA_CA_CERTS: join(dir, "other.pem") },
    });
    expect(run.exitCode).toBe(EXIT.NETWORK);
    expect(await listDir(out)).toEqual([]);
    await removeDir(out);
  });
});
