import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import { bytesOf, sha256Hex } from "../helpers/bytes.ts";
import { runDlm, tempDirs } from "../helpers/cli.ts";
import { type RawRequest, rangeOf, startRawOrigin } from "../helpers/raw-origin.ts";

// Property: whatever a server does to a correct answer (cut it, reset it, lie about lengths or ranges, put
// garbage in its head or its body), dlm never exits 0 with bytes that differ from the file, and never
// leaves anything under the final name when it fails. Body corruption under correct framing is only
// detectable with a checksum, so those cases pass --checksum (as a user who has one would).
const SIZE = 300_000;
const BODY = bytesOf(0, SIZE - 1);
const SHA = sha256Hex(BODY);
const dirs = tempDirs("dlm-mutations-");

type Mutation =
  | { kind: "truncate"; keep: number }
  | { kind: "reset"; keep: number }
  | { kind: "length"; delta: number }
  | { kind: "range-shift"; by: number }
  | { kind: "head-garbage"; at: number; byte: number }
  | { kind: "body-garbage"; at: number; byte: number }
  | { kind: "ignore-range" };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), keep: fc.nat({ max: 1000 }) }),
  fc.record({ kind: fc.constant("reset" as const), keep: fc.nat({ max: 1000 }) }),
  fc.record({
    kind: fc.constant("length" as const),
    delta: fc.integer({ min: -50, max: 50 }).filter((d) => d !== 0),
  }),
  fc.record({
    kind: fc.constant("range-shift" as const),
    by: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0),
  }),
  fc.record({
    kind: fc.constant("head-garbage" as const),
    at: fc.nat({ max: 60 }),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("body-garbage" as const),
    at: fc.nat({ max: 1000 }),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("ignore-range" as const) }),
);

function answer(request: RawRequest, socket: Socket, m: Mutation | undefined): void {
  const range = m?.kind === "ignore-range" ? undefined : rangeOf(request, SIZE);
  let start = range?.start ?? 0;
  const end = range?.end ?? SIZE - 1;
  if (m?.kind === "range-shift") start = Math.max(0, Math.min(end, start + m.by));
  let body = BODY.slice(start, end + 1);
  let length = body.length;
  if (m?.kind === "length") length = Math.max(0, length + m.delta);
  if (m?.kind === "body-garbage" && body.length > 0) {
    body[m.at % body.length] = (body[m.at % body.length] ?? 0) ^ (m.byte | 1);
  }
  const status =
    range === undefined
      ? "200 OK"
      : `206 Partial Content\r\nContent-Range: bytes ${range.start}-${range.end}/${SIZE}`;
  let head = Buffer.from(
    `HTTP/1.1 ${status}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
    "latin1",
  );
  if (m?.kind === "head-garbage") {
    head = Buffer.from(head);
    head[m.at % head.length] = m.byte;
  }
  if (m?.kind === "truncate" || m?.kind === "reset") {
    body = body.subarray(0, Math.min(body.length - 1, m.keep));
    socket.write(head);
    socket.write(body, () => (m.kind === "reset" ? socket.resetAndDestroy() : socket.end()));
    return;
  }
  socket.write(head);
  socket.end(body.subarray(0, Math.min(body.length, length)));
}

afterAll(() => dirs.removeAll());

test("random mutations of correct answers never give exit 0 with wrong bytes", async () => {
  await fc.assert(
    fc.asyncProperty(
      mutation,
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 4 }),
      async (m, mutatedRequests, connections) => {
        let served = 0;
        const origin = await startRawOrigin((request, socket) => {
          served++;
          answer(request, socket, served <= mutatedRequests ? m : undefined);
        });
        const out = await dirs.fresh();
        try {
          const args = ["get", origin.url("/f"), "-o", "f.bin", "-c", String(connections), "--retries", "2"];
          args.push("--stall-timeout", "1s", "--quiet");
          if (m.kind === "body-garbage") args.push("--checksum", `sha256:${SHA}`);
          const run = await runDlm(args, { cwd: out, timeoutMs: 40_000 });
          const file = join(out, "f.bin");
          if (run.exitCode === 0) expect(sha256Hex(readFileSync(file))).toBe(SHA);
          else expect(existsSync(file)).toBe(false);
        } finally {
          await origin.close();
        }
      },
    ),
    { numRuns: 16, seed: 20261130 },
  );
}, 240_000);
