// applicationFor: a plain `dlm get`/`dlm resume` runs with a route map of that command alone (building the
// full application costs start-up, issue 24). It must route, parse and report exactly as the full one does.
import { describe, expect, test } from "bun:test";
import { type RouteMap, run } from "@stricli/core";
import type { Context } from "../src/context.ts";
import { applicationFor, fullApplication } from "../src/interfaces/cli/app.ts";
import type { CliContext } from "../src/interfaces/cli/cli-context.ts";

const ALL = [
  "get",
  "resume",
  "status",
  "pause",
  "cancel",
  "watch",
  "completion",
  "serve",
  "add",
  "ls",
  "info",
  "rm",
  "limit",
  "update",
];

function routesOf(argv: readonly string[]): string[] {
  const root = applicationFor(argv).root as RouteMap<CliContext>;
  return root.getAllEntries().map((entry) => entry.name.original);
}

/** Runs `argv` through `app` up to the command, recording everything written and the outcome. */
async function outcome(app: ReturnType<typeof fullApplication>, argv: string[]) {
  let out = "";
  let err = "";
  const sink = (write: (text: string) => void) => ({ write, isTTY: false });
  const stream = (write: (text: string) => void) =>
    ({ write: (text: string) => write(text) }) as unknown as NodeJS.WriteStream & { fd: 1 } & {
      fd: 2;
    };
  const dlm: Context = {
    fetch: (() => {
      throw new Error("no request in these cases");
    }) as unknown as typeof fetch,
    now: () => 0,
    monotonic: () => 0,
    env: {},
    stdout: sink((text) => {
      out += text;
    }),
    stderr: sink((text) => {
      err += text;
    }),
    cwd: "/nonexistent-dlm-cli-app-test",
  };
  const cli: CliContext = {
    process: {
      stdout: stream((text) => {
        out += text;
      }),
      stderr: stream((text) => {
        err += text;
      }),
      env: { STRICLI_NO_COLOR: "1" },
    },
    dlm,
    exitCode: undefined,
    exitNow: () => undefined,
    onSignal: () => () => undefined,
  };
  await run(app, argv, cli);
  return { out, err, exitCode: cli.exitCode, stricli: (cli.process as { exitCode?: unknown }).exitCode };
}

describe("applicationFor", () => {
  test("a plain get or resume: that command alone; help and every other command: all of them", () => {
    expect(routesOf(["get", "http://127.0.0.1/f"])).toEqual(["get"]);
    expect(routesOf(["resume", "f.bin"])).toEqual(["resume"]);
    for (const argv of [
      ["get", "--help"],
      ["resume", "-h"],
      ["ls"],
      ["serve", "--dir", "d"],
      [],
      ["--help"],
    ]) {
      expect(routesOf(argv)).toEqual(ALL);
    }
  });

  test.each([
    [["get", "--bogus"]],
    [["get", "http://127.0.0.1/f", "--connections", "0"]],
    [["get", "ftp://127.0.0.1/f"]],
    [["get", "http://127.0.0.1/f", "--range-start", "9", "--range-end", "1"]],
    [["get", "http://127.0.0.1/f", "--metalink-file", "x"]],
    [["resume", "--bogus"]],
    [["resume"]],
  ])("%p: the same output and outcome as with every command", async (argv) => {
    const slim = await outcome(applicationFor(argv), argv);
    const full = await outcome(fullApplication(), argv);
    expect(slim.err).not.toBe("");
    expect(slim).toEqual(full);
  });
});
