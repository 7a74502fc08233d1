// Lint rules that protect the two invariants a reviewer can't see at a glance:
// workflow code is deterministic (no Node built-ins, no I/O packages, no floating promises), and
// only the ONNX serializer touches protobuf.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const ioPackages = ['minio', 'onnxruntime-node', 'onnx-proto', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.state*/**', 'test-artifacts/**', '.tmp-build/**', 'bin/**', '**/*.js', '**/*.mjs', '**/*.mts'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', {
        paths: [{ name: 'onnx-proto', message: 'Only onnx/serialize*.ts may import onnx-proto.' }],
      }],
    },
  },
  {
    files: ['onnx/serialize*.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed from history.
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...nodeBuiltins, ...ioPackages].map((name) => ({
          name,
          message: 'Workflow code must stay deterministic: no Node built-ins or I/O packages (use activities).',
        })),
      }],
    },
  },
);
