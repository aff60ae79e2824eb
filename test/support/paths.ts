/** Where the tests find the one build they load (see test/support/global-setup.ts). */

import * as path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
/** The compiled library and CLI that every child process loads (test/children/dist.cjs). */
export const dist = path.join(root, 'dist', 'cjs');
export const distLib = path.join(dist, 'lib');
export const qmmCli = path.join(dist, 'scripts', 'qmm.js');
/** A child-process script of test/children/. */
export const childScript = (name: string): string => path.join(root, 'test', 'children', name);
