import { buildCommand } from "@stricli/core";

/** `dlm limit [ID] RATE`: a download's speed limit, or the global one, in the running dlm serve, at once. */
export const limitCommand = buildCommand({
  loader: async () => (await import("./limit-run.ts")).runLimit,
  parameters: {
    flags: { json: { kind: "boolean", brief: "One JSON object", optional: true } },
    positional: {
      kind: "array",
      parameter: {
        brief:
          "[ID] RATE: a download id (none: the limit all share), then bytes per second (512K, 4M; 0 lifts it)",
        parse: String,
        placeholder: "ID|RATE",
      },
    },
  },
  docs: { brief: "Set a download's speed limit, or the one all share, in the running dlm serve (at once)" },
});
