// A gRPC client for dlm.v1.DownloadService on @grpc/grpc-js, run under Node (spawned by the tests).
// Usage: node grpc-download.mjs HOST:PORT TOKEN URL
// Adds URL twice with one request_id, lists, reads the first WatchAll message, and prints one JSON line:
// {first, second, listed, watch, error}.
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [address, token, url] = process.argv.slice(2);
const protoDir = fileURLToPath(new URL("../../proto", import.meta.url));
const definition = protoLoader.loadSync("dlm/v1/download.proto", {
  includeDirs: [protoDir],
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const dlm = grpc.loadPackageDefinition(definition).dlm.v1;
const client = new dlm.DownloadService(address, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("authorization", `Bearer ${token}`);
const unary = (method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))),
  );

try {
  // proto-loader turns field names into camelCase (keepCase is off).
  const request = { url, requestId: "grpc-js-1", startPaused: true, labels: ["grpc"] };
  const first = await unary("Add", request);
  const second = await unary("Add", request);
  const listed = await unary("List", { labels: ["grpc"] });
  const watch = await new Promise((resolve, reject) => {
    const call = client.WatchAll({ sinceSeq: 0 }, metadata);
    call.on("data", (message) => {
      resolve(message);
      call.cancel();
    });
    call.on("error", (error) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
  });
  console.log(
    JSON.stringify({
      first: { id: first.download.id, created: first.created, state: first.download.state },
      second: { id: second.download.id, created: second.created },
      listed: listed.downloads.map((d) => d.id),
      watch: { event: watch.event, seq: watch.seq, count: watch.snapshot?.downloads.length },
    }),
  );
} catch (error) {
  console.log(JSON.stringify({ error: { code: error.code, details: error.details } }));
}
client.close();
