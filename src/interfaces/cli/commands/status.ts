import { buildCommand } from "@stricli/core";
import { formatBytes, formatDuration, formatRate } from "../../shared/format.ts";
import type { StatusBody } from "../control-client.ts";
import { clientFlags, fileParameter } from "./client-command.ts";

/** `dlm status FILE`: one summary line, then one line per segment (or the JSON snapshot with --json). */
export const statusCommand = buildCommand({
  loader: async () => (await import("./status-run.ts")).runStatus,
  parameters: { flags: clientFlags, positional: fileParameter },
  docs: { brief: "Show the state, progress and segments of a download started with --listen" },
});

/** Human form of a status: summary line and an indented line per segment. */
export function statusText(s: StatusBody): string {
  const percent = s.percent === undefined ? "" : `  ${s.percent.toFixed(1)}%`;
  const size =
    s.totalBytes === undefined
      ? formatBytes(s.bytesDownloaded)
      : `${formatBytes(s.bytesDownloaded)} / ${formatBytes(s.totalBytes)}`;
  const lines = [
    `${s.download}  ${s.state}${percent}  ${size}  ${formatRate(s.bytesPerSecond)}  ETA ${formatDuration(s.etaSeconds)}  ${s.activeConnections} conn`,
  ];
  if (s.error !== undefined) lines.push(`  error ${s.error.code}: ${s.error.message}`);
  for (const g of s.segments) {
    // The connection's rate and slow flag as the engine measures and judges them.
    const worker =
      g.worker === undefined
        ? ""
        : `  worker ${g.worker}  ${formatRate(g.bytesPerSecond)}${g.slow ? "  slow" : ""}`;
    const retries = g.retries === 0 ? "" : `  ${g.retries} retries`;
    lines.push(
      `  segment ${g.id}  bytes ${g.start}-${g.end}  ${formatBytes(g.done)} / ${formatBytes(g.end - g.start + 1)}  ${g.state}${worker}${retries}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
