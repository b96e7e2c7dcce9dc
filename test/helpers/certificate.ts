import { existsSync } from "node:fs";
import { join } from "node:path";

/** Debian's openssl, which makes the test certificates. */
export const OPENSSL = "/usr/bin/openssl";

/** True when openssl is installed, so TLS tests can skip with a reason instead of failing. */
export function opensslAvailable(): boolean {
  return existsSync(OPENSSL);
}

/**
 * A self-signed certificate and its key (PEM files `NAME.pem`, `NAME.key` in `dir`) for `subjectAltName`
 * (`IP:127.0.0.1`, `DNS:other.example`), valid for a day. Trust it with NODE_EXTRA_CA_CERTS=`cert`.
 */
export function makeCertificate(
  dir: string,
  name: string,
  subjectAltName: string,
): { readonly cert: string; readonly key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  const result = Bun.spawnSync([
    OPENSSL,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-keyout",
    key,
    "-out",
    cert,
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=${subjectAltName}`,
  ]);
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`);
  return { cert, key };
}
