import { createHash, timingSafeEqual } from "node:crypto";

/** aria2's `token:SECRET` first parameter, compared in constant time. */
export class RpcSecret {
  readonly #digest: Buffer;

  constructor(secret: string) {
    this.#digest = sha256(`token:${secret}`);
  }

  /** True when `param` is `token:SECRET`. Hashing first gives equal lengths, so timing says nothing. */
  matches(param: unknown): boolean {
    const given = typeof param === "string" ? param : "";
    return timingSafeEqual(sha256(given), this.#digest) && typeof param === "string";
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}
