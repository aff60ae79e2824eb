/** The options of `qmm bench` (parsed by commander in scripts/qmm.ts). */
export interface BenchOptions {
  quick?: boolean;
  json?: boolean;
  /** A Markdown file whose generated block is replaced; nothing is written without it. */
  write?: string;
  only?: string;
  peakGops?: number;
  dramGbps?: number;
}
