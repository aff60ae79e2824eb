/**
 * The npm CLI for tests that pack and install: the npm running this test
 * (npm_execpath, set by `npm test` / `npm run`), else the `npm` found on PATH.
 * Works with a distro Node whose npm does not live next to process.execPath.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Command {
  file: string;
  args: string[];
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function npmCommand(): Command {
  const running = process.env.npm_execpath;
  if (running && /npm-cli\.[cm]?js$/.test(running) && fs.existsSync(running)) return { file: process.execPath, args: [running] };
  const found = onPath('npm');
  if (!found) throw new Error('npm not found: run this under npm (npm run test:release) or put npm on PATH');
  const real = fs.realpathSync(found);
  // a JS entry point runs with this Node, so it works with a PATH that has no `node` or `env`
  return /\.[cm]?js$/.test(real) ? { file: process.execPath, args: [real] } : { file: real, args: [] };
}
