/** The progress of a long command (qmm prepare, qmm quantize) on stderr, phase by phase. */

import { SingleBar } from 'cli-progress';

export const MiB = 2 ** 20;

export function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** 'bar': a cli-progress bar per phase (a TTY); 'lines': a line per phase and per 10 % (a log); 'quiet': nothing. */
export type ReporterMode = 'bar' | 'lines' | 'quiet';

export class PhaseReporter {
  private bar: SingleBar | undefined;
  private phase: string | undefined;
  private lastTenth = 0;

  constructor(private readonly mode: ReporterMode) {}

  /** `title` names the phase: a new title ends the last phase and starts a bar or prints `title: total`. */
  update(title: string, unit: 'bytes' | 'layers', done: number, total: number, item?: string): void {
    if (this.mode === 'quiet') return;
    const scaled = (v: number) => (unit === 'bytes' ? Math.round(v / MiB) : v);
    if (title !== this.phase) {
      this.finish();
      this.phase = title;
      this.lastTenth = 0;
      if (this.mode === 'bar') {
        this.bar = new SingleBar({ format: `${title.padEnd(16)} [{bar}] {percentage}% | {value}/{total} ${unit === 'bytes' ? 'MiB' : 'layers'} | {item}`, hideCursor: true, stream: process.stderr, barsize: 30 });
        this.bar.start(scaled(total), 0, { item: '' });
      } else {
        process.stderr.write(`${title}: ${unit === 'bytes' ? mb(total) : `${total} layers`}\n`);
      }
    }
    if (this.bar) this.bar.update(scaled(done), { item: item ?? '' });
    else if (total > 0) {
      const tenth = Math.floor((done / total) * 10);
      if (tenth > this.lastTenth) {
        this.lastTenth = tenth;
        process.stderr.write(`  ${tenth * 10}%${item ? ` ${item}` : ''}\n`);
      }
    }
  }

  /** Ends the bar of the current phase (the next update starts a new phase). */
  finish(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.phase = undefined;
  }
}
