// cliProcess: the process view Stricli gets. A download command's first request must not wait for Bun to build
// process.stdout/stderr (issue 24), so Stricli is told not to colour there; help and other commands keep colours.
import { describe, expect, test } from "bun:test";
import { cliProcess } from "../src/interfaces/cli/cli-process.ts";

const env = { PATH: "/bin", SHELL: "/bin/bash" };

describe("cliProcess", () => {
  test("get and resume: Stricli sees STRICLI_NO_COLOR, the rest of the environment unchanged", () => {
    for (const argv of [
      ["get", "http://x/f"],
      ["resume", "f.bin", "-c", "4"],
    ]) {
      expect(cliProcess(argv, env).env).toEqual({ ...env, STRICLI_NO_COLOR: "1" });
    }
    expect(env).toEqual({ PATH: "/bin", SHELL: "/bin/bash" });
  });

  test("help of a download command, other commands and no command keep the environment as it is", () => {
    for (const argv of [["get", "--help"], ["get", "-h"], ["resume", "--help-all"], ["serve"], ["ls"], []]) {
      expect(cliProcess(argv, env).env).toBe(env);
    }
  });

  test("the streams write through to the process's own", () => {
    const view = cliProcess(["get"], env);
    expect(view.stdout.write).toBeInstanceOf(Function);
    expect(view.stderr.isTTY).toBe(process.stderr.isTTY);
    expect(view.stdout.fd).toBe(1);
  });
});
