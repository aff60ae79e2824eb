/** The five seed examples of `npm run demo`, each checked bit for bit against the reference. */

import { describe, expect, it } from 'vitest';
import { checksum, EXAMPLES } from '../scripts/demo/examples';
import { expectMatches } from './helpers';
import { refQuantMatmul } from './reference';

describe('seed examples (npm run demo)', () => {
  for (const ex of EXAMPLES) {
    it(`(${ex.id}) ${ex.title}`, async () => {
      const results = await ex.run();
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) expectMatches(r.out, refQuantMatmul(r.logical), `(${ex.id}) ${r.label}`);
      if (ex.id === 'a') expect(checksum(results[0].out)).toBe(checksum(results[1].out));
    });
  }
});
