/** Unit: MLmodel text, version tags/filters, input validation and idempotent registration over a fake registry. */
import { ServiceAccessError } from '../../config/service-access-error';
import { describe, expect, it } from 'vitest';
import {
  MlflowApiError,
  MlflowTransportError,
  type CreateModelVersionRequest,
  type ModelVersion,
} from '../../registry/mlflow-client';
import { parse as parseYaml } from 'yaml';
import {
  formatUtcTimeCreated,
  modelUuid,
  parseUtcTimeCreated,
  renderMlmodel,
  renderSupportFiles,
  validateDirectoryInput,
} from '../../registry/model-directory';
import {
  registerModelVersion,
  sha256Filter,
  versionTags,
  MAX_TAG_VALUE_LENGTH,
  nameList,
  type ModelRegistryApi,
  type RegisterModelInput,
} from '../../registry/register-model-version';
import { RegistrationError, RegistryInputError } from '../../registry/registry-error';

const SHA = '0123456789abcdef'.repeat(4);
const created = new Date('2026-11-28T17:54:06.957Z');
/** LocalizationNet's graph signature at the default input shape, as the emitter reports it. */
const SIGNATURE = {
  inputs: [{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, 3, 128, 32] }],
  outputs: [
    { name: 'positions', dtype: 'float32', shape: [-1, 2] },
    { name: 'uncertainties', dtype: 'float32', shape: [-1, 2] },
  ],
};

describe('MLmodel', () => {
  const input = {
    modelName: 'heimdall-localization-onnx',
    sha256: SHA,
    bytes: 100,
    opset: 17,
    runId: 'run1',
    signature: SIGNATURE,
  };
  const text = renderMlmodel(input, created, 1234);

  it('has the onnx and python_function flavors, the signature and identity fields MLflow reads', () => {
    expect(text).toContain(
      'flavors:\n  onnx:\n    code: null\n    data: model.onnx\n    onnx_session_options: null\n    onnx_version: 1.12.0\n    providers:\n    - CUDAExecutionProvider\n    - CPUExecutionProvider\n',
    );
    expect(text).toContain(
      '  python_function:\n    data: model.onnx\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n    loader_module: mlflow.onnx\n',
    );
    expect(text).toContain(
      `  inputs: "[{\\"name\\":\\"mel_spectrogram\\",\\"type\\":\\"tensor\\",\\"tensor-spec\\":{\\"dtype\\":\\"float32\\",\\"shape\\":[-1,3,128,32]}}]"`,
    );
    expect(text).toMatch(/outputs: ".*positions.*-1,2.*uncertainties.*-1,2.*"/);
    expect(text).toContain(`model_uuid: ${modelUuid('heimdall-localization-onnx', SHA)}\n`);
    expect(text).toContain("utc_time_created: '2026-11-28 17:54:06.957000'\n");
    expect(text).toContain('mlflow_version: 3.17.2\n');
    expect(text).toContain('model_size_bytes: 1234\n');
    expect(text).toContain(`  onnx_sha256: ${SHA}\n`);
    expect(text).toContain('run_id: run1\n');
  });

  it('records the signature it is given, in graph order, as MLflow tensor specs a YAML reader gets back', () => {
    const signature = {
      inputs: [{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, 3, 64, 16] }],
      outputs: [
        { name: 'positions', dtype: 'float32', shape: [-1, 2] },
        { name: 'uncertainties', dtype: 'float32', shape: [-1, 2] },
      ],
    };
    const doc = parseYaml(renderMlmodel({ modelName: 'm', sha256: SHA, bytes: 1, signature }, created, 1)) as {
      signature: { inputs: string; outputs: string };
    };
    expect(JSON.parse(doc.signature.inputs)).toEqual([
      { name: 'mel_spectrogram', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3, 64, 16] } },
    ]);
    expect(JSON.parse(doc.signature.outputs).map((o: { name: string }) => o.name)).toEqual([
      'positions',
      'uncertainties',
    ]);
  });

  it.each([
    ['modelName', { modelName: '../x', sha256: SHA }, /^modelName: expected 1-100 characters/],
    ['sha256', { modelName: 'm', sha256: 'A'.repeat(64) }, /^sha256: expected 64 lowercase hex characters/],
  ])('refuses a bad %s with its own RegistryInputError, naming the field', (field, over, message) => {
    const err = (() => {
      try {
        return validateDirectoryInput({ bytes: 1, signature: SIGNATURE, ...over } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RegistryInputError);
    expect(err).toMatchObject({ field, message: expect.stringMatching(message) });
  });

  it('refuses a signature without inputs or with a non-integer dimension', () => {
    const bad = [
      { inputs: [], outputs: SIGNATURE.outputs },
      { inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 'b'] }], outputs: SIGNATURE.outputs },
    ];
    for (const signature of bad) {
      expect(() => validateDirectoryInput({ modelName: 'm', sha256: SHA, bytes: 1, signature } as never)).toThrow(
        /^signature: expected/,
      );
    }
  });

  it('is deterministic and round-trips its creation time', () => {
    expect(renderMlmodel(input, created, 1234)).toBe(text);
    expect(parseUtcTimeCreated(text)?.toISOString()).toBe(created.toISOString());
    expect(formatUtcTimeCreated(created)).toBe('2026-11-28 17:54:06.957000');
    expect(modelUuid('a', SHA)).toMatch(/^[0-9a-f]{32}$/);
    expect(modelUuid('a', SHA)).not.toBe(modelUuid('b', SHA));
  });

  it('quotes values YAML would otherwise misread', () => {
    const t = renderMlmodel(
      {
        modelName: 'm',
        sha256: SHA,
        bytes: 1,
        signature: SIGNATURE,
        metadata: { flag: 'yes', num: '1e5', text: 'a: b' },
      },
      created,
      1,
    );
    expect(t).toContain('  flag: "yes"\n');
    expect(t).toContain('  num: "1e5"\n');
    expect(t).toContain('  text: "a: b"\n');
  });

  it('support files: requirements, environments, metadata, and the reports only when given', () => {
    const names = (extra = {}) =>
      renderSupportFiles({ modelName: 'm', sha256: SHA, bytes: 1, signature: SIGNATURE, ...extra }, created).map(
        (f) => f.name,
      );
    expect(names()).toEqual(['requirements.txt', 'python_env.yaml', 'conda.yaml', 'metadata.json']);
    expect(names({ parityReport: {}, latencyReports: [], latencySvg: '<svg/>' })).toEqual([
      'requirements.txt',
      'python_env.yaml',
      'conda.yaml',
      'metadata.json',
      'parity-report.json',
      'latency-report.json',
      'latency.svg',
    ]);
    const req = renderSupportFiles(
      { modelName: 'm', sha256: SHA, bytes: 1, signature: SIGNATURE, opset: 21 },
      created,
    )[0]?.body.toString();
    expect(req).toBe('mlflow==3.17.2\nnumpy\nonnx>=1.16.0\nonnxruntime>=1.16\n');
  });
});

/** A registry that keeps versions in memory and can lose the answer of a create after applying it. */
class FakeRegistry implements ModelRegistryApi {
  readonly trackingUri = 'http://mlflow.test';
  versions: ModelVersion[] = [];
  creates = 0;
  loseNextCreateAnswers = 0;
  failNextCreatesWith: Error | undefined;
  failNextSearches = 0;
  aliases = new Map<string, string>();
  async ensureRegisteredModel(name: string) {
    return { name };
  }
  async createModelVersion(req: CreateModelVersionRequest): Promise<ModelVersion> {
    this.creates++;
    if (this.failNextCreatesWith) {
      const e = this.failNextCreatesWith;
      this.failNextCreatesWith = undefined;
      throw e;
    }
    const mv: ModelVersion = {
      name: req.name,
      version: String(this.versions.length + 1),
      source: req.source,
      run_id: req.run_id ?? '',
      tags: req.tags ?? [],
    };
    this.versions.push(mv);
    if (this.loseNextCreateAnswers > 0) {
      this.loseNextCreateAnswers--;
      throw new MlflowTransportError('model-versions/create', 'ECONNRESET', 'other side closed');
    }
    return mv;
  }
  async searchModelVersions(filter: string) {
    if (this.failNextSearches > 0) {
      this.failNextSearches--;
      throw new MlflowTransportError('model-versions/search', 'ECONNREFUSED', 'connection refused');
    }
    const m = /^name='([^']+)' AND tags\.onnx_sha256='([0-9a-f]+)'$/.exec(filter);
    if (!m) throw new MlflowApiError('model-versions/search', 400, 'INVALID_PARAMETER_VALUE', filter);
    return this.versions.filter(
      (v) => v.name === m[1] && v.tags?.some((t) => t.key === 'onnx_sha256' && t.value === m[2]),
    );
  }
  async deleteModelVersion(_name: string, version: string) {
    this.versions = this.versions.filter((v) => v.version !== version);
  }
  async setRegisteredModelAlias(_name: string, alias: string, version: string) {
    this.aliases.set(alias, version);
  }
}

const input = (over: Partial<RegisterModelInput> = {}): RegisterModelInput => ({
  modelName: 'heimdall-localization-onnx',
  sha256: SHA,
  source: `s3://heimdall-models/models/heimdall-localization-onnx/${SHA}`,
  alias: 'staging',
  opset: 17,
  parity: { maxAbsError: 1e-6, meanAbsError: 2e-7 },
  cpuP50Ms: 3.5,
  workflowId: 'wf-1',
  ...over,
});
const opts = { sleep: async () => {}, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 } };

describe('registerModelVersion', () => {
  it('creates once, then finds the same version', async () => {
    const reg = new FakeRegistry();
    const a = await registerModelVersion(reg, input(), opts);
    const b = await registerModelVersion(reg, input(), opts);
    expect([a.created, b.created]).toEqual([true, false]);
    expect(b.version).toBe(a.version);
    expect(reg.creates).toBe(1);
    expect(reg.aliases.get('staging')).toBe('1');
    expect(a).toMatchObject({
      modelUri: 'models:/heimdall-localization-onnx/1',
      uiUrl: 'http://mlflow.test/#/models/heimdall-localization-onnx/versions/1',
    });
  });

  it('a create applied but answered with a reset is found by the lookup, not sent again', async () => {
    const reg = new FakeRegistry();
    reg.loseNextCreateAnswers = 1;
    const entry = await registerModelVersion(reg, input(), opts);
    expect(reg.creates).toBe(1);
    expect(reg.versions).toHaveLength(1);
    expect(entry.version).toBe('1');
  });

  it('a create applied with its answer lost while MLflow went down: the retry searches first and creates nothing more', async () => {
    const reg = new FakeRegistry();
    reg.loseNextCreateAnswers = 1;
    // The lookup after the lost answer fails (MLflow down), and so does the next attempt's search.
    const realCreate = reg.createModelVersion.bind(reg);
    reg.createModelVersion = async (req) => {
      const out = realCreate(req);
      reg.failNextSearches = 2;
      return out;
    };
    const entry = await registerModelVersion(reg, input(), { ...opts, retry: { ...opts.retry, maxAttempts: 4 } });
    expect(reg.creates).toBe(1);
    expect(reg.versions).toHaveLength(1);
    expect(entry.version).toBe('1');
  });

  it("a training run the pipeline's user may not read (403 on the linked create) is registered without the link", async () => {
    const reg = new FakeRegistry();
    const forbidden = new ServiceAccessError('MLflow …: HTTP 403 Forbidden: user p lacks permission', {
      service: 'MLflow',
      problem: 'auth',
      endpoint: 'https://mlflow.test/api/2.0/mlflow/model-versions/create',
      code: '403',
    });
    const realCreate = reg.createModelVersion.bind(reg);
    reg.createModelVersion = async (req) => {
      if (req.run_id) {
        reg.creates++;
        throw forbidden;
      }
      return realCreate(req);
    };
    const entry = await registerModelVersion(reg, input({ runId: 'r1' }), opts);
    expect(reg.creates).toBe(2);
    expect(reg.versions).toHaveLength(1);
    expect(entry.runId).toBeUndefined();
    expect(reg.versions[0]?.tags).toContainEqual({ key: 'training_run_id', value: 'r1' });
  });

  it('a 403 on a create without a run link is not retried: the failure says who lacks what', async () => {
    const reg = new FakeRegistry();
    reg.failNextCreatesWith = new ServiceAccessError('MLflow …: HTTP 403 Forbidden: user p lacks permission', {
      service: 'MLflow',
      problem: 'auth',
      endpoint: 'https://mlflow.test/api/2.0/mlflow/model-versions/create',
      code: '403',
    });
    await expect(registerModelVersion(reg, input(), opts)).rejects.toThrow(/403 Forbidden: user p lacks permission/);
    expect(reg.creates).toBe(1);
  });

  it('duplicates a cut-short race left behind are deleted; the lowest version stays', async () => {
    const reg = new FakeRegistry();
    await registerModelVersion(reg, input(), opts);
    reg.versions.push({ ...(reg.versions[0] as ModelVersion), version: '2' });
    const entry = await registerModelVersion(reg, input(), opts);
    expect(entry).toMatchObject({ version: '1', created: false });
    expect(reg.versions.map((v) => v.version)).toEqual(['1']);
  });

  it('a 5xx that did not create is retried; a 4xx is not', async () => {
    const reg = new FakeRegistry();
    reg.failNextCreatesWith = new MlflowApiError('model-versions/create', 503, undefined, 'busy');
    expect((await registerModelVersion(reg, input(), opts)).version).toBe('1');
    expect(reg.creates).toBe(2);
    const reg2 = new FakeRegistry();
    reg2.failNextCreatesWith = new MlflowApiError(
      'model-versions/create',
      400,
      'INVALID_PARAMETER_VALUE',
      'bad source',
    );
    const err = await registerModelVersion(reg2, input(), opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as RegistrationError).retryable).toBe(false);
    expect(reg2.creates).toBe(1);
  });

  it('tags carry the sha256, parity errors, p50, opset and workflow id; the filter matches MLflow syntax', () => {
    expect(Object.fromEntries(versionTags(input()).map((t) => [t.key, t.value]))).toEqual({
      onnx_sha256: SHA,
      parity_max_abs_error: '0.000001',
      parity_mean_abs_error: '2e-7',
      cpu_p50_ms: '3.5',
      onnx_opset: '17',
      temporal_workflow_id: 'wf-1',
    });
    expect(sha256Filter('m', SHA)).toBe(`name='m' AND tags.onnx_sha256='${SHA}'`);
  });

  it('an fp32 version is tagged variant=fp32; an int8 version also names its fp32 version, graph and calibration', () => {
    const tags = (over: Partial<RegisterModelInput>) =>
      Object.fromEntries(versionTags(input(over)).map((t) => [t.key, t.value]));
    expect(tags({ variant: 'fp32' })).toMatchObject({ variant: 'fp32', onnx_sha256: SHA });
    expect(tags({ variant: 'fp32' })).not.toHaveProperty('fp32_model_version');
    const fp32Sha = 'f'.repeat(64);
    expect(
      tags({
        modelName: 'heimdall-localization-onnx-int8',
        source: `s3://heimdall-models/models/heimdall-localization-onnx-int8/${SHA}`,
        variant: 'int8',
        derivedFrom: { modelVersion: '7', onnxSha256: fp32Sha },
        calibration: { method: 'minmax', source: 'calibration.safetensors' },
      }),
    ).toMatchObject({
      onnx_sha256: SHA,
      variant: 'int8',
      fp32_model_version: '7',
      fp32_onnx_sha256: fp32Sha,
      calibration_method: 'minmax',
      calibration_source: 'calibration.safetensors',
    });
  });

  it('an int8 version with nodes kept float is tagged with their count, the quantizable count and their names', () => {
    const tags = Object.fromEntries(
      versionTags(input({ variant: 'int8', keptFloat: { nodes: ['stem/Conv', 'head.0/Gemm'], quantizable: 40 } })).map(
        (t) => [t.key, t.value],
      ),
    );
    expect(tags).toMatchObject({
      int8_float_nodes: '2',
      int8_quantizable_nodes: '40',
      int8_float_node_names: 'stem/Conv,head.0/Gemm',
    });
  });

  it('lists as many whole float node names as fit 5000 characters, then how many more the report has', () => {
    const nodes = Array.from({ length: 400 }, (_, i) => `backbone.${i}.block.0/Conv`);
    const value = Object.fromEntries(
      versionTags(input({ variant: 'int8', keptFloat: { nodes, quantizable: 2000 } })).map((t) => [t.key, t.value]),
    ).int8_float_node_names as string;
    expect(value.length).toBeLessThanOrEqual(MAX_TAG_VALUE_LENGTH);
    const match = /^(.*),… \(\+(\d+) more\)$/.exec(value);
    expect(match).not.toBeNull();
    const listed = (match?.[1] ?? '').split(',');
    expect(listed).toEqual(nodes.slice(0, listed.length));
    expect(listed.length + Number(match?.[2])).toBe(400);
    // One more name would not have fit.
    const longer = `${nodes.slice(0, listed.length + 1).join(',')},… (+${400 - listed.length - 1} more)`;
    expect(longer.length).toBeGreaterThan(MAX_TAG_VALUE_LENGTH);
    expect(nameList(['a', 'b'], 100)).toBe('a,b');
  });

  it('the variant tag does not change de-duplication: a version registered without it is found, not created again', async () => {
    const reg = new FakeRegistry();
    const before = await registerModelVersion(reg, input(), opts);
    const after = await registerModelVersion(reg, input({ variant: 'fp32' }), opts);
    expect(after).toMatchObject({ version: before.version, created: false });
    expect(reg.creates).toBe(1);
  });

  it.each([
    ['modelName', { modelName: '../x' }],
    ['modelName', { modelName: "x' OR name='y" }],
    ['sha256', { sha256: 'xyz' }],
    ['source', { source: 'file:///etc' }],
    ['source', { source: 's3://heimdall-models/models/other' }],
    ['alias', { alias: 'latest' }],
    ['alias', { alias: 'v3' }],
    ['runId', { runId: 'a/b' }],
    ['cpuP50Ms', { cpuP50Ms: Number.NaN }],
    ['tags key', { tags: { onnx_sha256: 'spoof' } }],
    // The int8 variant's origin fields.
    ['variant', { variant: 'int4' }],
    ['derivedFrom.modelVersion', { derivedFrom: { modelVersion: 'latest', onnxSha256: SHA } }],
    ['derivedFrom.onnxSha256', { derivedFrom: { modelVersion: '1', onnxSha256: 'abc' } }],
    ['calibration.method', { calibration: { method: "x' OR 1", source: 'reference.safetensors' } }],
    ['tags key', { tags: { variant: 'spoof' } }],
    ['keptFloat.quantizable', { keptFloat: { nodes: ['a', 'b'], quantizable: 1 } }],
    ['keptFloat.nodes', { keptFloat: { nodes: ['a,b'], quantizable: 3 } }],
  ])('refuses bad %s before any request', async (field, over) => {
    const reg = new FakeRegistry();
    const err = await registerModelVersion(reg, input(over as Partial<RegisterModelInput>), opts).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryInputError);
    expect((err as RegistryInputError).field).toBe(field);
    expect(reg.creates).toBe(0);
  });
});
