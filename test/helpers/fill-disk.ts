import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real, size-limited filesystem (tmpfs) mounted on a fresh directory, for ENOSPC tests. */
export interface SmallDisk {
  /** Mount point; everything written below it counts against the size limit. */
  readonly dir: string;
  /** Changes the size limit in place (`mount -o remount,size=`), keeping the files. `bytes` is rounded up to pages. */
  resize(bytes: number): Promise<void>;
  /** Unmounts and removes the mount point. Safe to call twice. */
  unmount(): Promise<void>;
}

/** Why a small disk could not be made (not root, no mount(8), a container without CAP_SYS_ADMIN...). */
export interface NoSmallDisk {
  readonly reason: string;
}

async function mount(args: readonly string[]): Promise<string | undefined> {
  try {
    const proc = Bun.spawn(["mount", ...args], { stdout: "ignore", stderr: "pipe" });
    const stderr = await new Response(proc.stderr).text();
    return (await proc.exited) === 0 ? undefined : `mount ${args.join(" ")}: ${stderr.trim()}`;
  } catch (error) {
    return `mount: ${(error as Error).message}`;
  }
}

/**
 * Mounts a tmpfs of `bytes` (rounded up to pages) on a new temporary directory. Needs root or
 * CAP_SYS_ADMIN; when the machine does not allow it, returns the reason instead of throwing, so a test
 * can skip and say why.
 */
export async function mountSmallDisk(bytes: number): Promise<SmallDisk | NoSmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), "dlm-small-disk-"));
  const failed = await mount(["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  if (failed !== undefined) {
    await rm(dir, { recursive: true, force: true });
    return { reason: failed };
  }
  let mounted = true;
  return {
    dir,
    async resize(size) {
      const error = await mount(["-o", `remount,size=${size}`, dir]);
      if (error !== undefined) throw new Error(error);
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      const proc = Bun.spawn(["umount", dir], { stdout: "ignore", stderr: "ignore" });
      if ((await proc.exited) === 0) await rm(dir, { recursive: true, force: true });
    },
  };
}
