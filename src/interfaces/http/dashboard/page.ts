/**
 * The live dashboard, bundled by Bun and served by the HTTP listener. All data arrives over one
 * Connect-Web server stream (ProgressService.Watch); the buttons call the control API. The bearer token
 * comes from the URL fragment, which browsers never send in a request line.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { type Progress, ProgressService, SegmentState, State } from "../../../gen/dlm/v1/progress_pb.ts";

const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
const $ = (id: string) => document.getElementById(id) as HTMLElement;
const STATE_NAMES: Record<number, string> = {
  [State.PROBING]: "probing",
  [State.RUNNING]: "running",
  [State.PAUSED]: "paused",
  [State.FINISHING]: "verifying",
  [State.FINISHED]: "finished",
  [State.FAILED]: "failed",
  [State.CANCELLED]: "cancelled",
};
const ENDED = new Set([State.FINISHED, State.FAILED, State.CANCELLED]);
const CHART_SECONDS = 180;
const rates: { t: number; r: number }[] = [];

const auth: Interceptor = (next) => (req) => {
  req.header.set("Authorization", `Bearer ${token}`);
  return next(req);
};
const client = createClient(
  ProgressService,
  createConnectTransport({ baseUrl: location.origin, interceptors: [auth] }),
);

function notice(text: string | undefined): void {
  const el = $("notice");
  el.hidden = text === undefined;
  el.textContent = text ?? "";
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

function duration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return "-";
  const t = Math.round(s);
  return t < 60
    ? `${t}s`
    : t < 3600
      ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`
      : `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}m`;
}

function render(p: Progress): void {
  const total = p.totalBytes === undefined ? undefined : Number(p.totalBytes);
  const done = Number(p.bytesDownloaded);
  const state = STATE_NAMES[p.state] ?? "unknown";
  $("name").textContent = p.output.split("/").pop() ?? p.output;
  $("url").textContent = p.url;
  document.title = `${p.percent === undefined ? "" : `${p.percent.toFixed(0)}% `}${$("name").textContent} - dlm`;
  $("state").textContent = state;
  $("done").textContent = total === undefined ? bytes(done) : `${bytes(done)} of ${bytes(total)}`;
  $("rate").textContent = `${bytes(Math.round(p.bytesPerSecond))}/s`;
  $("eta").textContent = duration(p.etaSeconds);
  $("conns").textContent = String(p.activeConnections);
  const percent = p.percent ?? 0;
  $("bar-fill").style.width = `${percent}%`;
  $("bar").setAttribute("aria-valuenow", percent.toFixed(1));
  ($("pause") as HTMLButtonElement).disabled = p.state !== State.RUNNING && p.state !== State.PROBING;
  ($("resume") as HTMLButtonElement).disabled = p.state !== State.PAUSED;
  ($("cancel") as HTMLButtonElement).disabled = ENDED.has(p.state);
  renderMap(p, total);
  renderChart(p);
  if (p.state === State.FAILED) notice(`Failed: ${p.failure?.message ?? "unknown error"}`);
}

function renderMap(p: Progress, total: number | undefined): void {
  const map = $("map");
  const size = total ?? Math.max(1, ...p.segments.map((s) => Number(s.end) + 1));
  const first = Math.min(...p.segments.map((s) => Number(s.start)), 0);
  const blocks: HTMLElement[] = [];
  for (const s of p.segments) {
    const start = Number(s.start) - first;
    const length = Number(s.end) - Number(s.start) + 1;
    const seg = document.createElement("div");
    seg.className = `seg${s.state === SegmentState.STALLED ? " stalled" : s.state === SegmentState.RETRYING ? " retrying" : ""}`;
    seg.style.left = `${(start / size) * 100}%`;
    seg.style.width = `${(length / size) * 100}%`;
    seg.title = `segment ${s.id}: ${bytes(Number(s.done))} of ${bytes(length)}${s.worker === undefined ? "" : `, connection ${s.worker}`}`;
    const fill = document.createElement("i");
    fill.style.width = `${Math.min(100, (Number(s.done) / length) * 100)}%`;
    fill.style.background = s.worker === undefined ? "var(--muted)" : `hsl(${(s.worker * 47) % 360} 65% 50%)`;
    seg.append(fill);
    blocks.push(seg);
  }
  map.replaceChildren(...blocks);
}

function renderChart(p: Progress): void {
  const now = performance.now() / 1000;
  rates.push({ t: now, r: p.bytesPerSecond });
  while (rates.length > 0 && (rates[0]?.t ?? now) < now - CHART_SECONDS) rates.shift();
  const max = Math.max(1, ...rates.map((x) => x.r));
  const points = rates.map(
    (x) =>
      `${(((x.t - (now - CHART_SECONDS)) / CHART_SECONDS) * 600).toFixed(1)},${(118 - (x.r / max) * 112).toFixed(1)}`,
  );
  $("chart-line").setAttribute("points", points.join(" "));
  $("chart-max").textContent = `peak ${bytes(Math.round(max))}/s`;
}

async function command(name: "pause" | "resume" | "cancel"): Promise<void> {
  const res = await fetch(`/${name}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  }).catch(() => undefined);
  if (res === undefined) return notice(`Could not reach dlm to ${name}: is it still running?`);
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    notice(`Cannot ${name}: ${body.message ?? res.statusText}`);
  } else {
    notice(undefined);
  }
}

async function watch(): Promise<void> {
  if (token === "") {
    notice("This page needs the link dlm printed (it carries an access token after #token=).");
    $("state").textContent = "no token";
    return;
  }
  let delay = 500;
  for (;;) {
    let last: Progress | undefined;
    try {
      for await (const p of client.watch({})) {
        last = p;
        delay = 500;
        notice(undefined);
        render(p);
      }
      if (last !== undefined && ENDED.has(last.state)) return;
    } catch (error) {
      const err = ConnectError.from(error);
      if (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied) {
        notice(
          "The access token in this link is wrong or expired. Open the URL that dlm printed when it started.",
        );
        $("state").textContent = "not authorised";
        return;
      }
      if (last !== undefined && ENDED.has(last.state)) return;
      if (err.code === Code.Canceled && last?.state === State.CANCELLED) return;
      notice(`Lost contact with dlm (${err.rawMessage}); retrying in ${(delay / 1000).toFixed(1)} s...`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 8_000);
  }
}

for (const name of ["pause", "resume", "cancel"] as const)
  $(name).addEventListener("click", () => void command(name));
void watch();
