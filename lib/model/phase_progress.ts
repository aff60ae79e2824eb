/** The onProgress reports of prepareModel and quantizeModel, one phase at a time. */

interface ProgressReport {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  readonly item?: string;
}

/** Reports one phase to onProgress: { phase, done: 0, total } at once, then { phase, done, total, item } per add. */
export class PhaseProgress<P extends ProgressReport> {
  private done = 0;

  constructor(
    private readonly cb: ((p: P) => void) | undefined,
    private readonly phase: P['phase'],
    private readonly total: number,
  ) {
    this.cb?.({ phase, done: 0, total } as P);
  }

  /** `n` more done (capped at the total); a layer reports fractions of its bytes, `done` is rounded. */
  add(n: number, item?: string): void {
    this.done = Math.min(this.total, this.done + n);
    this.cb?.({ phase: this.phase, done: Math.round(this.done), total: this.total, ...(item !== undefined ? { item } : {}) } as P);
  }
}
