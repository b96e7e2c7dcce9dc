// A gRPC client for ProgressService.Watch on @grpc/grpc-js, the reference gRPC implementation, run under
// Node (spawned by the tests: Node 20 cannot run .ts, so the proto is loaded at run time).
// Usage: node grpc-watch.mjs HOST:PORT TOKEN [--authority NAME] [--max N]
//   TOKEN "-" sends no authorization; --authority overrides :authority; --max N cancels after N messages.
// Prints one JSON line per message ({type:"progress", bytes, total, state}) and one final
// {type:"status", code, details}, then exits 0.
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [address, token, ...rest] = process.argv.slice(2);
const option = (name) => {
  const i = rest.indexOf(name);
  return i === -1 ? undefined : rest[i + 1];
};
const authority = option("--authority");
const max = option("--max") === undefined ? Number.POSITIVE_INFINITY : Number(option("--max"));

const protoDir = fileURLToPath(new URL("../../proto", import.meta.url));
const definition = protoLoader.loadSync("dlm/v1/progress.proto", {
  includeDirs: [protoDir],
  longs: Number,
  enums: String,
  defaults: true,
});
const dlm = grpc.loadPackageDefinition(definition).dlm.v1;
const channelOptions = authority === undefined ? {} : { "grpc.default_authority": authority };
const client = new dlm.ProgressService(address, grpc.credentials.createInsecure(), channelOptions);
const metadata = new grpc.Metadata();
if (token !== "-") metadata.set("authorization", `Bearer ${token}`);

let received = 0;
const call = client.Watch({}, metadata);
call.on("data", (p) => {
  received++;
  const total = p.total_bytes ?? p.totalBytes;
  const bytes = p.bytes_downloaded ?? p.bytesDownloaded;
  console.log(JSON.stringify({ type: "progress", bytes, total, state: p.state }));
  if (received >= max) call.cancel();
});
call.on("error", () => {
  // Reported through "status" below.
});
call.on("status", (status) => {
  // grpc-js decodes grpc-message with decodeURI, which leaves %3A, %2F... as they are; Connect servers
  // percent-encode them. Finish the job, as the gRPC spec's percent-decoding would.
  const details = decodeURIComponent(status.details);
  console.log(JSON.stringify({ type: "status", code: status.code, details }));
  client.close();
});
