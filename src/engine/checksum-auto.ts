/**
 * Where `--checksum auto` looks for the published sum of `url`, in order: NAME.sha256, NAME.sha512,
 * NAME.md5 beside it, then SHA256SUMS and SHA512SUMS in the same directory (query and fragment dropped:
 * a signed URL's signature is not the sums file's). Pure.
 */
export function checksumCandidates(url: string): string[] {
  const parsed = new URL(url);
  parsed.search = "";
  parsed.hash = "";
  const path = parsed.pathname;
  const slash = path.lastIndexOf("/");
  const name = path.slice(slash + 1);
  const dir = new URL(path.slice(0, slash + 1), parsed).href;
  const beside = name === "" ? [] : [".sha256", ".sha512", ".md5"].map((ext) => `${parsed.href}${ext}`);
  return [...beside, `${dir}SHA256SUMS`, `${dir}SHA512SUMS`];
}

/** The file name a URL ends in (percent-decoded), "" when it ends in `/`. */
export function urlBaseName(url: string): string {
  const path = new URL(url).pathname;
  const last = path.slice(path.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}
