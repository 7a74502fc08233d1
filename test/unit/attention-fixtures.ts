/**
 * Test helper: TriangulationModel and IQResNet18 (the two attention plug-ins) on weights made in
 * TypeScript from their own key → shape tables (table-weights.ts): seeded inputs of any batch,
 * receiver count and IQ length with a chosen mask, and a complete bundle whose reference holds the
 * emitted graph's own outputs (names and shapes, never parity: test/integration/attention-parity does
 * that). Tests only.
 */
import * as ort from 'onnxruntime-node';
import { expectedShapes as iqShapes } from '../../models/iq_resnet18';
import { expectedShapes as triangulationShapes } from '../../models/triangulation_model';
import { maskTensor, normal, tableBundle, tableEntries, withOwnReference } from './table-weights';

export type AttentionArchitecture = 'triangulation_model' | 'iq_resnet18';

/** Which receivers are masked (True = masked, both models' polarity). */
export type MaskRule = (sample: number, receiver: number) => boolean;

/** IQ length when a test does not say: short, since the tests run many graphs on a shared machine. */
export const TEST_IQ_LENGTH = 64;

export const SHAPES: Readonly<Record<AttentionArchitecture, () => Map<string, readonly number[]>>> = {
  triangulation_model: triangulationShapes,
  iq_resnet18: iqShapes,
};

/** Seeded inputs of `name` for `batch` samples of `receivers` receivers (IQ `length` long). */
export function attentionInputs(
  name: AttentionArchitecture,
  batch: number,
  receivers: number,
  masked: MaskRule,
  seed: number,
  length = TEST_IQ_LENGTH,
): Record<string, ort.Tensor> {
  if (name === 'triangulation_model') {
    return {
      receiver_features: new ort.Tensor('float32', normal(batch * receivers * 6, seed), [batch, receivers, 6]),
      signal_mask: maskTensor(batch, receivers, masked),
    };
  }
  return {
    iq_samples: new ort.Tensor('float32', normal(batch * receivers * 2 * length, seed), [batch, receivers, 2, length]),
    receiver_mask: maskTensor(batch, receivers, masked),
  };
}

/** Seeded weights of `name` as a bundle dir (config.json with `config`'s fields, model.safetensors). */
export function attentionBundle(name: AttentionArchitecture, config: Record<string, unknown> = {}, seed = 7): string {
  return tableBundle({ architecture: name, ...config }, tableEntries(SHAPES[name](), seed));
}

/** A complete bundle of `name`: two cases (N = 7 and N = 4, partial masks) with the graph's own outputs. */
export function attentionFixtureBundle(name: AttentionArchitecture): Promise<string> {
  const partial: MaskRule = (b, i) => i >= 2 && (b + i) % 2 === 1;
  return withOwnReference(attentionBundle(name), {
    r7: attentionInputs(name, 2, 7, partial, 1),
    r4: attentionInputs(name, 3, 4, partial, 2),
  });
}
