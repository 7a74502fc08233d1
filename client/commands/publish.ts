/**
 * `onnx-export publish <model.onnx> --model-name X [--run-id Y] [--alias A]`: stage, publish and
 * register an ONNX file without Temporal (for scripts), printing the registry entry. Parses options
 * and prints; the work is storage/ and registry/. Prints no credentials.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { REGISTRY_DEFAULTS } from '../../common/constants';
import { loadConfig } from '../../config/environment';
import { createMlflowClient } from '../../registry/mlflow-client';
import { publishModelDirectory } from '../../registry/model-directory';
import { graphSignature } from '../../onnx/graph-signature';
import { readModel } from '../../onnx/serialize-read';
import { registerModelVersion } from '../../registry/register-model-version';
import { createMinioClient } from '../../storage/minio-client';
import { ContentAddressedStore } from '../../storage/object-store';
import { validateModelName } from '../../storage/object-keys';
import { minioS3Operations } from '../../storage/s3-operations';

interface PublishOptions {
  modelName: string;
  runId?: string;
  alias: string | false;
  opset?: number;
  description?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('publish')
    .description(
      'upload an ONNX file, publish it as an MLflow model directory and register a model version (no Temporal)',
    )
    .argument('<model.onnx>', 'the ONNX file')
    .option(
      '--model-name <name>',
      'registered model name (also the object prefix)',
      parseModelName,
      REGISTRY_DEFAULTS.modelName,
    )
    .option('--run-id <id>', 'MLflow run id of the training run')
    .option('--alias <alias>', 'alias to point at the version', REGISTRY_DEFAULTS.alias)
    .option('--no-alias', 'set no alias')
    .option('--opset <n>', 'opset of the model (recorded in tags and MLmodel)', parseOpset)
    .option('--description <text>', 'model version description')
    .option('--json', 'print the result as JSON')
    .action(async (modelPath: string, opts: PublishOptions) => {
      const config = loadConfig();
      const store = new ContentAddressedStore(minioS3Operations(createMinioClient(config.s3)), {
        bucket: config.s3.modelsBucket,
      });
      const mlflow = createMlflowClient(config.mlflow);
      const say = (line: string) => {
        if (!opts.json) process.stderr.write(`${line}\n`);
      };

      let lastPct = -1;
      const staged = await store.stageFile(modelPath, {
        onProgress: (cp) => {
          const pct = Math.floor((100 * cp.parts.reduce((n, p) => n + p.size, 0)) / Math.max(1, cp.size));
          if (pct >= lastPct + 10) {
            lastPct = pct;
            say(`  uploading ${pct}%`);
          }
        },
      });
      say(`staged   ${staged.uri} (${staged.method}, ${staged.bytesSent} bytes sent)`);
      const signature = graphSignature(await readModel(modelPath));
      const published = await publishModelDirectory(
        store,
        {
          modelName: opts.modelName,
          sha256: staged.sha256,
          bytes: staged.bytes,
          signature,
          ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
          ...(opts.runId ? { runId: opts.runId } : {}),
        },
        { stagedKey: staged.key },
      );
      say(`published ${published.source}/ (${published.written ? 'written' : 'already complete'})`);
      const entry = await registerModelVersion(mlflow, {
        modelName: opts.modelName,
        sha256: staged.sha256,
        source: published.source,
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
        ...(opts.description ? { description: opts.description } : {}),
        alias: opts.alias || null,
      });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ staged, published, registry: entry }, null, 2)}\n`);
      } else {
        process.stdout.write(
          `registered ${entry.modelUri} (${entry.created ? 'new version' : 'existing version'})${entry.alias ? `, alias '${entry.alias}'` : ''}\n` +
            `  sha256 ${entry.sha256}\n  source ${entry.source}\n  ${entry.uiUrl}\n`,
        );
      }
    });
}

function parseModelName(value: string): string {
  try {
    return validateModelName(value, '--model-name');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function parseOpset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 7 || n > 30)
    throw new InvalidArgumentError(`expected an integer opset from 7 to 30, got '${value}'`);
  return n;
}
