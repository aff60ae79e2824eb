/**
 * Which tensors `qmm quantize` turns into int8. A tensor is quantized when
 *   1. its name is `<module>.weight` and the module's last name segment is one
 *      of LINEAR_MODULES (the linear projections of Llama/Qwen/Mistral/Gemma,
 *      Phi-3, DeepSeek, GPT-NeoX/Falcon/ChatGLM/BLOOM, OPT/BART, InternLM2 and
 *      Mixtral-style experts),
 *   2. it is 2-D (n, k) = (out_features, in_features) with n, k > 0, and
 *   3. no --skip glob matches the tensor name or its module name.
 * Everything else is copied unchanged and tagged FLOAT: embeddings, norms,
 * lm_head, biases (a quantized layer's bias is widened to float32, as
 * msModelSlim writes it), MoE routers (`mlp.gate`), and GPT-2's c_attn/c_proj/
 * c_fc, which are Conv1D layers stored (k, n) and are therefore not listed.
 */

export const LINEAR_MODULES: readonly string[] = [
  'q_proj', 'k_proj', 'v_proj', 'o_proj', 'qkv_proj',
  'gate_proj', 'up_proj', 'down_proj', 'gate_up_proj',
  'q_a_proj', 'q_b_proj', 'kv_a_proj_with_mqa', 'kv_b_proj',
  'out_proj', 'fc1', 'fc2',
  'query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h',
  'wq', 'wk', 'wv', 'wo', 'wqkv', 'w1', 'w2', 'w3',
];

const LINEAR_SET: ReadonlySet<string> = new Set(LINEAR_MODULES);

/** The rule in one sentence, for --json and the docs. */
export const QUANTIZE_RULE =
  `a tensor is quantized when its name is <module>.weight, the module's last segment is one of ${LINEAR_MODULES.join(', ')}, ` +
  'it is 2-D (out_features, in_features) and non-empty, and no --skip glob matches the tensor or module name; ' +
  'everything else (embeddings, norms, lm_head, biases, routers, …) stays float, tagged FLOAT';

/** Why a tensor stays float. */
export type KeepReason = 'skip' | 'embedding' | 'lm_head' | 'norm' | 'bias' | 'not-2d' | 'empty' | 'not-linear';

/**
 * A --skip glob: `*` matches any run of characters (dots included), `?` one
 * character, everything else itself. It must match the whole tensor name or
 * the whole module name (the tensor name without `.weight` / `.bias`).
 */
export function compileGlob(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

export function splitModule(name: string): { module: string; leaf: string; suffix: string } {
  const dot = name.lastIndexOf('.');
  const module = dot < 0 ? '' : name.slice(0, dot);
  const suffix = dot < 0 ? name : name.slice(dot + 1);
  const mdot = module.lastIndexOf('.');
  return { module, leaf: mdot < 0 ? module : module.slice(mdot + 1), suffix };
}

export class TensorRule {
  private readonly globs: ReadonlyArray<{ glob: string; re: RegExp }>;
  private readonly used = new Set<string>();

  constructor(skip: readonly string[]) {
    this.globs = skip.map((glob) => ({ glob, re: compileGlob(glob) }));
  }

  /** The --skip glob matching the tensor or its module, if any. */
  skippedBy(name: string): string | undefined {
    const { module } = splitModule(name);
    for (const g of this.globs) {
      if (g.re.test(name) || (module !== '' && g.re.test(module))) {
        this.used.add(g.glob);
        return g.glob;
      }
    }
    return undefined;
  }

  /** Whether `name` names the weight of a linear module (rule 1). */
  static isLinearWeight(name: string): boolean {
    const { leaf, suffix } = splitModule(name);
    return suffix === 'weight' && LINEAR_SET.has(leaf);
  }

  /** Decides a tensor: 'quantize', or why it stays float. */
  decide(name: string, shape: readonly number[]): 'quantize' | KeepReason {
    const linear = TensorRule.isLinearWeight(name);
    if (this.skippedBy(name) !== undefined) return 'skip';
    if (linear) {
      if (shape.length !== 2) return 'not-2d';
      if (shape[0] === 0 || shape[1] === 0) return 'empty';
      return 'quantize';
    }
    const lower = name.toLowerCase();
    if (lower.includes('lm_head')) return 'lm_head';
    if (/embed|wte|wpe/.test(lower)) return 'embedding';
    if (/norm|ln_\w*$|\.ln\d*\./.test(lower)) return 'norm';
    if (splitModule(name).suffix === 'bias') return 'bias';
    return 'not-linear';
  }

  /** Globs that matched nothing so far. */
  unusedGlobs(): string[] {
    return this.globs.map((g) => g.glob).filter((g) => !this.used.has(g));
  }
}
