/** Runs a command's job so that Ctrl-C (SIGINT) or SIGTERM stops it cleanly. */

import type { PhaseReporter } from './phase_reporter';

const SIGNAL_NUMBER = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs `job` with a signal that SIGINT and SIGTERM abort. When one of them
 * stopped it (the job has removed its staged output by then), prints
 * `qmm <command>: interrupted (<signal>); nothing was written to <out>` and
 * exits as a process killed by that signal would: 130, or 143 for SIGTERM.
 * The reporter's bar is ended however the job ends.
 */
export async function runInterruptible<T>(command: string, out: string, reporter: PhaseReporter, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let signalled: keyof typeof SIGNAL_NUMBER | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled = sig as keyof typeof SIGNAL_NUMBER;
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await job(ac.signal);
  } catch (e) {
    if (signalled) {
      reporter.finish();
      process.stderr.write(`qmm ${command}: interrupted (${signalled}); nothing was written to ${out}\n`);
      process.exit(128 + SIGNAL_NUMBER[signalled]);
    }
    throw e;
  } finally {
    reporter.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
