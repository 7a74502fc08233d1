/** client/signature-view: how `status`, `result` and `parity` show a signature and parity per case. */
import { describe, expect, it } from 'vitest';
import { parityCaseLines, paritySummary, signatureLines } from '../../client/signature-view';
import type { ModelSignature } from '../../common/model-signature';
import type { ParityReport } from '../../parity/parity-report';

const errors = (mae: number, nonFiniteOutputs = 0) => ({
  count: 6,
  mae,
  maxAbs: 2 * mae,
  maxRel: 0,
  maxAbsIndex: 0,
  nonFiniteOutputs,
  nonFiniteReference: 0,
});

describe('signature and parity views', () => {
  it('shows every input and output with its dtype and dims, symbolic ones by name', () => {
    const signature: ModelSignature = {
      inputs: [
        { name: 'iq_data', dtype: 'float32', shape: [-1, -1, 2, -1] },
        { name: 'mask', dtype: 'bool', shape: [-1, -1] },
      ],
      outputs: [{ name: 'position', dtype: 'float32', shape: [-1, 1] }],
      dims: { iq_data: ['batch', 'receivers', 2, 'seq_len'], mask: ['batch', 'receivers'], position: ['batch', 1] },
    };
    expect(signatureLines(signature)).toEqual([
      '  inputs     iq_data float32 [batch, receivers, 2, seq_len], mask bool [batch, receivers]',
      '  outputs    position float32 [batch, 1]',
    ]);
  });

  it('shows parity per case and split, with what onnxruntime said', () => {
    const report = {
      samples: 9,
      outputs: { position: errors(0.1, 3) },
      cases: [
        {
          name: 'r7',
          samples: 7,
          dims: { receivers: 7, seq_len: 1024 },
          passed: false,
          splits: [
            { splits: ['whole'], batches: '7', passed: true, outputs: { position: errors(1e-7) } },
            {
              splits: ['uneven'],
              batches: '3+4',
              passed: false,
              error: 'onnxruntime failed on samples [0, 3): broadcast',
              outputs: { position: { ...errors(0), count: 0 } },
            },
          ],
        },
      ],
    } as unknown as ParityReport;
    expect(paritySummary(report)).toBe('position MAE 1.00e-1 max 2.00e-1, 3 NaN/Inf (9 samples)');
    expect(parityCaseLines(report)).toEqual([
      "  case 'r7' (7 samples; receivers 7, seq_len 1024): FAIL",
      '    whole    runs 7        pass  position MAE 1.00e-7 max 2.00e-7',
      '    uneven   runs 3+4      FAIL  onnxruntime failed on samples [0, 3): broadcast',
    ]);
  });
});
