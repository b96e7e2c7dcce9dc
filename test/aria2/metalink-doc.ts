/** One `<file>` of a test Metalink: its name, `[url, priority]` pairs, and optionally its SHA-256. */
export interface MetalinkFileSpec {
  readonly name: string;
  readonly size: number;
  readonly urls: readonly (readonly [string, number])[];
  readonly sha256?: string;
}

/** A Metalink 4 document (RFC 5854) describing `files`, base64 as aria2.addMetalink takes it. */
export function metalinkBase64(files: readonly MetalinkFileSpec[]): string {
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<metalink xmlns="urn:ietf:params:xml:ns:metalink">',
    ...files.map((file) =>
      [
        `<file name="${file.name}">`,
        `<size>${file.size}</size>`,
        file.sha256 === undefined ? "" : `<hash type="sha-256">${file.sha256}</hash>`,
        ...file.urls.map(([url, priority]) => `<url priority="${priority}">${url}</url>`),
        "</file>",
      ].join(""),
    ),
    "</metalink>",
  ].join("\n");
  return Buffer.from(xml).toString("base64");
}
