import { buildCommand } from "@stricli/core";

/** `dlm ls [--json]`: every download of the running daemon, in queue order. */
export const lsCommand = buildCommand({
  loader: async () => (await import("./ls-run.ts")).runLs,
  parameters: {
    flags: { json: { kind: "boolean", brief: "One JSON object per download", optional: true } },
  },
  docs: { brief: "List the downloads of the running dlm serve: ID, state, progress, rate, file" },
});

/** `dlm info ID [--json]`: one download in full. */
export const infoCommand = buildCommand({
  loader: async () => (await import("./ls-run.ts")).runInfo,
  parameters: {
    flags: { json: { kind: "boolean", brief: "One JSON object", optional: true } },
    positional: { kind: "tuple", parameters: [{ brief: "Download id", parse: String, placeholder: "ID" }] },
  },
  docs: { brief: "Show one download of the running dlm serve" },
});
