// Types for the npm `aria2` package (aria2.js 4.1.2), which ships none: only what the tests use.
declare module "aria2" {
  import { EventEmitter } from "node:events";

  interface Aria2Options {
    host?: string;
    port?: number;
    secure?: boolean;
    secret?: string;
    path?: string;
    fetch?: unknown;
  }

  class Aria2 extends EventEmitter {
    constructor(options?: Aria2Options);
    open(): Promise<void>;
    close(): Promise<void>;
    call(method: string, ...params: unknown[]): Promise<unknown>;
    multicall(calls: unknown[][]): Promise<unknown[]>;
    batch(calls: unknown[][]): Promise<Promise<unknown>[]>;
    listMethods(): Promise<string[]>;
    listNotifications(): Promise<string[]>;
  }

  export = Aria2;
}
