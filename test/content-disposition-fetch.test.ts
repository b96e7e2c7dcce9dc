// What fetch really hands over for a header holding raw UTF-8 (as many servers send file names), read by
// dispositionFileName: a raw-TCP server on 127.0.0.1 sends the bytes, Bun's fetch parses them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { dispositionFileName } from "../src/engine/content-disposition-name.ts";

let server: Server;
let port: number;
/** The Content-Disposition value the next response carries, as raw bytes. */
let disposition = Buffer.alloc(0);

beforeAll(async () => {
  server = createServer((socket) => {
    socket.once("data", () => {
      socket.end(
        Buffer.concat([
          Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nContent-Disposition: "),
          disposition,
          Buffer.from("\r\n\r\nok"),
        ]),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
});

test.each([
  ['attachment; filename="файл.zip"', "файл.zip"],
  ["attachment; filename=日本語.txt", "日本語.txt"],
  ["attachment; filename*=UTF-8''%D1%84%D0%B0%D0%B9%D0%BB.zip", "файл.zip"],
])("raw bytes of %p through fetch -> %p", async (header, name) => {
  disposition = Buffer.from(header, "utf8");
  const response = await fetch(`http://127.0.0.1:${port}/`);
  await response.text();
  expect(dispositionFileName(response.headers.get("content-disposition"))).toBe(name);
});

test("a latin1 name that is not valid UTF-8 stays latin1", async () => {
  disposition = Buffer.from('attachment; filename="caf\xe9.txt"', "latin1");
  const response = await fetch(`http://127.0.0.1:${port}/`);
  await response.text();
  expect(dispositionFileName(response.headers.get("content-disposition"))).toBe("café.txt");
});
