/**
 * The manager page's "Add downloads" form: one or many URLs (one per line) with a directory, a checksum (one
 * URL only: a checksum names one file), connections, a speed limit, labels and "start paused", each URL sent
 * as one `DownloadService.Add`. Every URL keeps its request id until it is added, so submitting again after a
 * failure or a dropped answer never adds a download twice; refused URLs stay in the box with the reason.
 */
import { ConnectError } from "@connectrpc/connect";
import { type ComponentChild, h } from "preact";
import { useRef } from "preact/hooks";
import type { PageState } from "./page-state.ts";
import { parseRate } from "./row-text.ts";
import type { DownloadClient } from "./streams.ts";

/** The form's fields (Preact's element references start as null: its API, not dlm's). */
interface Fields {
  readonly urls: HTMLTextAreaElement | null;
  readonly dir: HTMLInputElement | null;
  readonly checksum: HTMLInputElement | null;
  readonly connections: HTMLInputElement | null;
  readonly limit: HTMLInputElement | null;
  readonly labels: HTMLInputElement | null;
  readonly paused: HTMLInputElement | null;
}

/** The form, in a `<details>` closed at first. */
export function AddForm({ client, state }: { client: DownloadClient; state: PageState }): ComponentChild {
  const urls = useRef<HTMLTextAreaElement>(null);
  const dir = useRef<HTMLInputElement>(null);
  const checksum = useRef<HTMLInputElement>(null);
  const connections = useRef<HTMLInputElement>(null);
  const limit = useRef<HTMLInputElement>(null);
  const labels = useRef<HTMLInputElement>(null);
  const paused = useRef<HTMLInputElement>(null);
  const requestIds = useRef(new Map<string, string>());
  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const fields: Fields = {
      urls: urls.current,
      dir: dir.current,
      checksum: checksum.current,
      connections: connections.current,
      limit: limit.current,
      labels: labels.current,
      paused: paused.current,
    };
    void addAll(client, state, fields, requestIds.current).then((text) => {
      if (text !== undefined) state.setAddResult(text);
    });
  };
  const field = (label: string, input: ComponentChild) => h("label", {}, `${label} `, input);
  return h(
    "details",
    { id: "add-panel" },
    h("summary", {}, "Add downloads"),
    h(
      "form",
      { id: "add-form", class: "add", onSubmit: submit },
      h(
        "label",
        { class: "full" },
        "URLs, one per line",
        h("textarea", {
          id: "add-urls",
          name: "urls",
          rows: 3,
          required: true,
          spellcheck: false,
          placeholder: "one http or https URL per line",
          ref: urls,
        }),
      ),
      field(
        "Directory",
        h("input", {
          id: "add-dir",
          name: "directory",
          placeholder: "(download directory)",
          autocomplete: "off",
          ref: dir,
        }),
      ),
      field(
        "Checksum",
        h("input", {
          id: "add-checksum",
          name: "checksum",
          placeholder: "sha256:HEX (one URL)",
          autocomplete: "off",
          spellcheck: false,
          ref: checksum,
        }),
      ),
      field(
        "Connections",
        h("input", {
          id: "add-connections",
          name: "connections",
          type: "number",
          min: 0,
          max: 64,
          placeholder: "default",
          ref: connections,
        }),
      ),
      field(
        "Speed limit",
        h("input", {
          id: "add-limit",
          name: "limit",
          placeholder: "none, e.g. 2M",
          autocomplete: "off",
          ref: limit,
        }),
      ),
      field(
        "Labels",
        h("input", {
          id: "add-labels",
          name: "labels",
          placeholder: "comma separated",
          autocomplete: "off",
          ref: labels,
        }),
      ),
      h(
        "label",
        { class: "check" },
        h("input", { id: "add-paused", name: "paused", type: "checkbox", ref: paused }),
        " Start paused",
      ),
      h(
        "div",
        { class: "full actions" },
        h("button", { type: "submit", id: "add-submit" }, "Add"),
        " ",
        h("span", { id: "add-result", class: "muted", role: "status" }, state.addResult),
      ),
    ),
  );
}

/** Adds every URL of the form; the result line, or undefined when the input was refused before any call. */
async function addAll(
  client: DownloadClient,
  state: PageState,
  fields: Fields,
  requestIds: Map<string, string>,
): Promise<string | undefined> {
  const urls = (fields.urls?.value ?? "").split(/\s+/).filter((u) => u !== "");
  const checksum = (fields.checksum?.value ?? "").trim();
  const connections = (fields.connections?.value ?? "").trim();
  const typedLimit = fields.limit?.value ?? "";
  const limit = parseRate(typedLimit);
  if (checksum !== "" && urls.length > 1) {
    state.setNotice("Checksum: one checksum fits one URL; add the others without it, or one at a time.");
    return undefined;
  }
  if (limit === undefined) {
    state.setNotice(`Speed limit: expected a rate like 512K or 2M, got ${JSON.stringify(typedLimit)}`);
    return undefined;
  }
  const labels = (fields.labels?.value ?? "")
    .split(",")
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
        directory: (fields.dir?.value ?? "").trim(),
        checksum,
        connections: connections === "" ? 0 : Number(connections),
        speedLimit: BigInt(limit),
        labels,
        startPaused: fields.paused?.checked ?? false,
        requestId,
      });
      requestIds.delete(url);
      added++;
    } catch (error) {
      failed.push(url);
      state.setNotice(`Could not add ${url}: ${ConnectError.from(error).rawMessage}`);
    }
  }
  if (fields.urls !== null) fields.urls.value = failed.join("\n");
  if (failed.length === 0) state.setNotice(undefined);
  return `${added} added${failed.length === 0 ? "" : `, ${failed.length} refused (kept above)`}`;
}
