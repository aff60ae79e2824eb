/**
 * What lib/native.ts takes from the addon: its ABI version (a stale binary is
 * refused with one ERR_QMM_BACKEND naming the file, the expected and the found
 * version) and its constants, the one copy of the codes and the emulator's
 * device count.
 */

import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backendInfo, QmmError } from '../lib/index';
import { ABI_VERSION, loadAddon, loadNative, nativeCodes, nativePath } from '../lib/native';

const binding = path.resolve(process.env.QMM_BINDING_PATH ?? path.join(__dirname, '..', 'build', 'Release', 'ascend_quant_matmul.node'));
const savedOverride = process.env.QMM_BINDING_PATH;
afterEach(() => {
  if (savedOverride === undefined) delete process.env.QMM_BINDING_PATH;
  else process.env.QMM_BINDING_PATH = savedOverride;
});

function loadError(expectedAbi: number): QmmError {
  try {
    loadAddon(expectedAbi);
  } catch (e) {
    return e as QmmError;
  }
  throw new Error('expected loadAddon to throw');
}

describe('ABI version', () => {
  it('the addon reports the version lib/native.ts expects', () => {
    expect(loadNative().abiVersion).toBe(ABI_VERSION);
    expect(loadAddon(ABI_VERSION).abiVersion).toBe(ABI_VERSION);
  });

  it('a binary of another version, named by QMM_BINDING_PATH, is one ERR_QMM_BACKEND naming the file and both versions', () => {
    process.env.QMM_BINDING_PATH = binding;
    const e = loadError(ABI_VERSION + 1);
    expect(e).toBeInstanceOf(QmmError);
    expect(e.code).toBe('ERR_QMM_BACKEND');
    expect(e.message.split('\n')[0]).toBe(`stale native addon: ${binding} has ABI version ${ABI_VERSION}, but this version of ascend-quant-matmul expects ${ABI_VERSION + 1}.`);
    expect(e.message).toContain('QMM_BINDING_PATH');
    expect(e.tried).toEqual([binding]);
  });

  it('without QMM_BINDING_PATH every stale candidate is named', () => {
    delete process.env.QMM_BINDING_PATH;
    const e = loadError(ABI_VERSION + 1);
    expect(e.code).toBe('ERR_QMM_BACKEND');
    expect(e.message).toMatch(/^stale native addon: /);
    expect(e.message).toContain(`has ABI version ${ABI_VERSION}, but this version of ascend-quant-matmul expects ${ABI_VERSION + 1}`);
    expect(e.message).toMatch(/rebuild it/);
  });
});

describe('the addon owns the constants', () => {
  it('dtype and format codes are the aclDataType / aclFormat values of the CANN headers', () => {
    const c = loadNative().constants;
    expect(c.dtypes).toEqual({ float32: 0, float16: 1, int8: 2, int32: 3, uint8: 4, int64: 9, uint64: 10, bfloat16: 27 });
    expect(c.formats).toEqual({ ND: 2, FRACTAL_NZ: 29 });
    expect(Object.isFrozen(c) && Object.isFrozen(c.dtypes) && Object.isFrozen(c.formats)).toBe(true);
    expect(nativeCodes().dtype.bfloat16).toBe(27);
    expect(c.maxRank).toBe(8);
  });

  it('the cpu backend has as many devices as the addon says', () => {
    const cpu = loadNative().openBackend('cpu');
    expect(cpu.info().deviceCount).toBe(loadNative().constants.emulatedDeviceCount);
    expect(loadNative().constants.emulatedDeviceCount).toBe(8);
    if (backendInfo().backend === 'cpu') expect(backendInfo().deviceCount).toBe(8);
  });

  it('the loaded binary is the one reported', () => {
    loadNative();
    expect(nativePath()).toBeDefined();
  });
});
