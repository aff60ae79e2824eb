/** `qmm demo`: runs the seed examples and prints shape, dtype, checksum, time and backend. */

import { backendInfo } from '../../lib/index';
import { checksum, EXAMPLES } from './examples';

export async function runDemo(ids?: string[]): Promise<void> {
  const info = backendInfo();
  console.log(`ascend-quant-matmul demo — backend: ${info.backend} (${info.reason})`);
  console.log(`  ${info.detail}`);
  for (const ex of EXAMPLES) {
    if (ids && ids.length > 0 && !ids.includes(ex.id)) continue;
    console.log(`\n(${ex.id}) ${ex.title}`);
    const results = await ex.run();
    for (const r of results) {
      console.log(
        `    ${r.label.padEnd(42)} shape ${JSON.stringify(r.out.shape).padEnd(14)} ${r.out.dtype.padEnd(9)} checksum ${checksum(r.out)}  ${r.ms.toFixed(2)} ms`,
      );
    }
    if (ex.id === 'a') {
      const same = checksum(results[0].out) === checksum(results[1].out);
      console.log(`    direct and trans_quant_param-first results identical: ${same ? 'yes' : 'NO'}`);
      if (!same) process.exitCode = 1;
    }
  }
}
