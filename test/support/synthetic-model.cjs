// Writes a large synthetic msModelSlim-style W8A8_DYNAMIC model (random int8
// weights, one big float tensor), streamed with the built library's
// SafetensorsWriter so any size can be generated in constant memory. For the
// prepare memory and interruption tests, test/support/measure-prepare-rss.cjs
// and the README workflow example (scripts/dev/quant-linear-example.cjs).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { SafetensorsWriter } = require('../children/dist.cjs').lib('index');

function xorshift(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/**
 * @param {string} dir
 * @param {{ layers: number, n: number, k: number, floatBytes: number, dtype?: 'float16' | 'bfloat16' }} opts
 *   layers (n, k) W8A8_DYNAMIC layers; floatBytes: size of the one float tensor
 *   ("model.embed_tokens.weight"), rounded down to whole rows of k.
 * @returns {Promise<{ largestTensorBytes: number, totalBytes: number }>}
 */
async function writeSyntheticModel(dir, opts) {
  fs.mkdirSync(dir, { recursive: true });
  const dtype = opts.dtype ?? 'bfloat16';
  const desc = { model_quant_type: 'W8A8_DYNAMIC' };
  const specs = [];
  const floatRows = Math.max(1, Math.floor(opts.floatBytes / 2 / opts.k));
  specs.push({ name: 'model.embed_tokens.weight', dtype: dtype === 'float16' ? 'F16' : 'BF16', shape: [floatRows, opts.k] });
  desc['model.embed_tokens.weight'] = 'FLOAT';
  for (let i = 0; i < opts.layers; i++) {
    const p = `model.layers.${i}.mlp.up_proj`;
    specs.push({ name: `${p}.weight`, dtype: 'I8', shape: [opts.n, opts.k] });
    specs.push({ name: `${p}.weight_scale`, dtype: 'F32', shape: [opts.n, 1] });
    specs.push({ name: `${p}.weight_offset`, dtype: 'F32', shape: [opts.n, 1] });
    for (const s of ['weight', 'weight_scale', 'weight_offset']) desc[`${p}.${s}`] = 'W8A8_DYNAMIC';
  }
  fs.writeFileSync(path.join(dir, 'quant_model_description.json'), JSON.stringify(desc));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ torch_dtype: dtype }));
  const w = await SafetensorsWriter.create(path.join(dir, 'quant_model_weights.safetensors'), specs);
  const chunk = 8 << 20;
  const next = xorshift(3);
  const noise = new Uint32Array(chunk / 4);
  for (let i = 0; i < noise.length; i++) noise[i] = next();
  const noiseBytes = new Int8Array(noise.buffer);
  const halfOnes = new Uint16Array(chunk / 2).fill(dtype === 'float16' ? 0x3c00 : 0x3f80);
  try {
    for (const s of specs) {
      if (s.name.endsWith('.weight_scale')) await w.write(s.name, new Float32Array(s.shape[0]).fill(0.01));
      else if (s.name.endsWith('.weight_offset')) await w.write(s.name, new Float32Array(s.shape[0]));
      else {
        const bytes = s.shape[0] * s.shape[1] * (s.dtype === 'I8' ? 1 : 2);
        for (let done = 0; done < bytes; done += chunk) {
          const len = Math.min(chunk, bytes - done);
          await w.write(s.name, s.dtype === 'I8' ? noiseBytes.subarray(0, len) : new Uint8Array(halfOnes.buffer, 0, len));
        }
      }
    }
    await w.commit();
  } catch (e) {
    await w.abort();
    throw e;
  }
  const weightBytes = opts.n * opts.k;
  return { largestTensorBytes: Math.max(weightBytes, floatRows * opts.k * 2), totalBytes: fs.statSync(path.join(dir, 'quant_model_weights.safetensors')).size };
}

module.exports = { writeSyntheticModel };
