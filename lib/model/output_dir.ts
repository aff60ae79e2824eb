/**
 * All-or-nothing output directories: everything is written into
 * `<outDir>.tmp-<pid>` (marked as in progress), the manifest last, and the
 * directory is renamed into place at the end. A failure removes the temp
 * directory; a killed process leaves only a `.tmp-<pid>` directory, which the
 * next run removes once that pid is gone.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelFileError } from './errors';

const MARKER = '.qmm-prepare-in-progress';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function fsyncPath(p: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(p, 'r');
    await fh.sync();
  } catch {
    // best effort: some platforms cannot open a directory
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

export class StagedDir {
  readonly target: string;
  readonly temp: string;
  private done = false;

  private constructor(target: string, temp: string) {
    this.target = target;
    this.temp = temp;
  }

  /** Creates `<target>.tmp-<pid>`; refuses an existing target unless `overwrite`. */
  static async create(target: string, overwrite: boolean): Promise<StagedDir> {
    const abs = path.resolve(target);
    const parent = path.dirname(abs);
    await fs.promises.mkdir(parent, { recursive: true }).catch((e: Error) => {
      throw modelFileError(parent, `cannot create the parent of the output directory: ${e.message}`, undefined, e);
    });
    const existing = await fs.promises.lstat(abs).catch(() => undefined);
    if (existing && !overwrite) throw modelFileError(abs, 'the output directory already exists; remove it or pass overwrite (--force)');
    if (existing && !existing.isDirectory()) throw modelFileError(abs, 'the output path exists and is not a directory');
    await StagedDir.removeStale(abs);
    const temp = `${abs}.tmp-${process.pid}`;
    await fs.promises.rm(temp, { recursive: true, force: true });
    await fs.promises.mkdir(temp);
    await fs.promises.writeFile(path.join(temp, MARKER), `${process.pid}\n`);
    return new StagedDir(abs, temp);
  }

  /** Removes temp directories of earlier runs that were killed (their pid is gone). */
  private static async removeStale(abs: string): Promise<void> {
    const parent = path.dirname(abs);
    const re = new RegExp(`^${path.basename(abs).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.tmp-(\\d+)$`);
    for (const name of await fs.promises.readdir(parent).catch(() => [] as string[])) {
      const m = re.exec(name);
      if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
      const dir = path.join(parent, name);
      if (fs.existsSync(path.join(dir, MARKER))) await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  file(name: string): string {
    return path.join(this.temp, name);
  }

  /** Writes a small file (the manifest) durably into the temp directory. */
  async writeFile(name: string, text: string): Promise<void> {
    const fh = await fs.promises.open(this.file(name), 'wx');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Renames the temp directory into place (replacing an old target when allowed). */
  async commit(): Promise<void> {
    await fs.promises.rm(path.join(this.temp, MARKER));
    await fsyncPath(this.temp);
    const old = `${this.target}.old-${process.pid}`;
    const hadTarget = fs.existsSync(this.target);
    if (hadTarget) await fs.promises.rename(this.target, old);
    try {
      await fs.promises.rename(this.temp, this.target);
    } catch (e) {
      if (hadTarget) await fs.promises.rename(old, this.target).catch(() => undefined);
      throw modelFileError(this.target, `cannot move the finished output into place: ${(e as Error).message}`, undefined, e);
    }
    this.done = true;
    if (hadTarget) await fs.promises.rm(old, { recursive: true, force: true });
    await fsyncPath(path.dirname(this.target));
  }

  /** Removes the temp directory (after a failure). */
  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await fs.promises.rm(this.temp, { recursive: true, force: true }).catch(() => undefined);
  }
}
