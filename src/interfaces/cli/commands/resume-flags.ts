import type { ListenFlags } from "../listen-address.ts";
import { listenFlags } from "../listen-address.ts";
import { downloadFlags, type GetFlags } from "./get.ts";

/** Flags of `dlm resume FILE`, after parsing. */
export type ResumeFlags = Pick<
  GetFlags,
  "connections" | "json" | "quiet" | "stallTimeout" | "retries" | "checkpointInterval" | "limit"
> &
  ListenFlags & {
    readonly restart?: boolean;
  };

/**
 * Flags of `dlm resume FILE` (a function so `dlm resume ID` can add its own to a fresh copy). Here, not in
 * resume.ts: the route map needs them at start, the resume itself (and the control client) only when it runs.
 */
export function resumeFlags() {
  return {
    ...downloadFlags,
    ...listenFlags,
    restart: {
      kind: "boolean",
      brief: "If the remote file changed, discard the old data and start over (default off)",
      optional: true,
    },
  } as const;
}
