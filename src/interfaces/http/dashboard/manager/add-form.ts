/**
 * The manager page's "Add downloads" form: one or many URLs (one per line) with a directory, a checksum (one
 * URL only: a checksum names one file), connections, a speed limit, labels and "start paused", each URL sent
 * as one `DownloadService.Add`. Every URL keeps its request id until it is added, so submitting again after a
 * failure or a dropped answer never adds a download twice; refused URLs stay in the box with the reason.
 */
import { type Client, ConnectError } from "@connectrpc/connect";
import type { DownloadService } from "../../../../gen/dlm/v1/download_pb.ts";
import { $ } from "../segments-view.ts";
import { notice } from "../token.ts";
import { parseRate } from "./row-text.ts";

const input = (id: string) => $(id) as HTMLInputElement;

/** Handles the form's submit with `client`. */
export function wireAddForm(client: Client<typeof DownloadService>): void {
  const requestIds = new Map<string, string>();
  $("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void submit(client, requestIds);
  });
}

async function submit(
  client: Client<typeof DownloadService>,
  requestIds: Map<string, string>,
): Promise<void> {
  const urls = input("add-urls")
    .value.split(/\s+/)
    .filter((u) => u !== "");
  const checksum = input("add-checksum").value.trim();
  const connections = input("add-connections").value.trim();
  const limit = parseRate(input("add-limit").value);
  if (checksum !== "" && urls.length > 1) {
    return notice("Checksum: one checksum fits one URL; add the others without it, or one at a time.");
  }
  if (limit === undefined) {
    return notice(
      `Speed limit: expected a rate like 512K or 2M, got ${JSON.stringify(input("add-limit").value)}`,
    );
  }
  const labels = input("add-labels")
    .value.split(",")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const failed: string[] = [];
  let added = 0;
  for (const url of urls) {
    let requestId = requestIds.get(url);
    if (requestId === undefined) {
      requestId = crypto.randomUUID();
      requestIds.set(url, requestId);
    }
    try {
      await client.add({
        url,
        directory: input("add-dir").value.trim(),
        checksum,
        connections: connections === "" ? 0 : Number(connections),
        speedLimit: BigInt(limit),
        labels,
        startPaused: input("add-paused").checked,
        requestId,
      });
      requestIds.delete(url);
      added++;
    } catch (error) {
      failed.push(url);
      notice(`Could not add ${url}: ${ConnectError.from(error).rawMessage}`);
    }
  }
  input("add-urls").value = failed.join("\n");
  $("add-result").textContent =
    `${added} added${failed.length === 0 ? "" : `, ${failed.length} refused (kept above)`}`;
  if (failed.length === 0) notice(undefined);
}
