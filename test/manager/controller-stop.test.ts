// Controller.stop(reason) carries why the owner stopped a run to its outcome: no side channel re-reads state.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../../src/control/controller.ts";
import { quietContext, requestFor } from "../control/fixture.ts";
import { tempDirs } from "../helpers/cli.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";

type Reason = { kind: "pause" } | { kind: "lost" };
const dirs = tempDirs("dlm-stop-");
let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

async function running(path: string) {
  const dir = await dirs.fresh();
  const url = origin.serve(path, { size: 8 * 1024 * 1024, throttleBytesPerSec: 256 * 1024 });
  const controller = new Controller<Reason>(
    quietContext(dir),
    requestFor(url, join(dir, "f.bin"), 1),
    getLogger(["dlm"]),
  );
  const outcome = controller.outcome();
  const deadline = performance.now() + 10_000;
  while (controller.snapshot().bytesDownloaded === 0 && performance.now() < deadline) await Bun.sleep(10);
  return { controller, outcome };
}

test("the first reason stays; a replacing one overrides; the outcome reports it", async () => {
  const { controller, outcome } = await running("/a.bin");
  expect(controller.stop({ kind: "pause" }, "test")).toBe(true);
  expect(controller.stop({ kind: "lost" }, "test")).toBe(true);
  expect(controller.stopReason).toEqual({ kind: "pause" });
  expect(controller.stop({ kind: "lost" }, "test", { replace: true })).toBe(true);
  const ended = await outcome;
  expect(ended.kind).toBe("stopped");
  expect(ended.kind === "stopped" && ended.reason).toEqual({ kind: "lost" });
});

test("a run nobody stopped ends failed or finished, never stopped", async () => {
  const dir = await dirs.fresh();
  const url = origin.serve("/missing.bin", { size: 10, status: 404 });
  const controller = new Controller<Reason>(
    quietContext(dir),
    requestFor(url, join(dir, "m.bin"), 1),
    getLogger(["dlm"]),
  );
  const ended = await controller.outcome();
  expect(ended.kind).toBe("failed");
  expect(controller.stop({ kind: "pause" }, "test")).toBe(false);
});
