/**
 * The Bun floor for a batch: `bun bench/floor-batch.ts LIST JOBS` fetches every URL of LIST (one a line) into
 * the working directory, under the URL's last path segment, JOBS at once: fetch, `for await` over the body, a
 * Bun file writer. No verification, no resume, no fsync: what Bun's fetch and file writer alone cost.
 */
export {};

const [listPath, jobsArg] = process.argv.slice(2);
if (listPath === undefined) throw new Error("usage: bun bench/floor-batch.ts LIST [JOBS]");
const urls = (await Bun.file(listPath).text()).split("\n").filter((line) => line !== "");
const jobs = Number(jobsArg ?? "8");
let next = 0;

async function fetchOne(url: string): Promise<void> {
  const response = await fetch(url);
  if (response.status !== 200 || response.body === null) throw new Error(`${url}: HTTP ${response.status}`);
  const writer = Bun.file(url.slice(url.lastIndexOf("/") + 1)).writer();
  for await (const chunk of response.body) writer.write(chunk);
  await writer.end();
}

async function lane(): Promise<void> {
  for (let i = next++; i < urls.length; i = next++) await fetchOne(urls[i] as string);
}

await Promise.all(Array.from({ length: jobs }, lane));
