// Lint rules that protect what a reviewer can't see at a glance:
// - workflow code is deterministic (no Node built-ins, no I/O packages, no floating promises) and
//   takes only types from the rooms that do I/O;
// - the rooms form one direction of imports (docs/architecture.md): each may import only the rooms
//   listed for it below, so no folder-level cycle can form; import-x/no-cycle catches file cycles;
// - only the ONNX encoder touches protobuf; production code never imports test/.
import { builtinModules } from 'node:module';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const ioPackages = [
  'minio',
  'onnxruntime-node',
  'onnx-proto',
  '@temporalio/worker',
  '@temporalio/client',
  '@temporalio/activity',
];

/** The libraries: they know nothing of Temporal. */
const LIBRARIES = [
  'common',
  'config',
  'hashing',
  'checkpoint',
  'onnx',
  'models',
  'parity',
  'diagnose',
  'quantize',
  'storage',
  'registry',
  'bench',
];

/** Each room and the rooms it may import (values and types). Keep in step with docs/architecture.md. */
const ROOM_IMPORTS = {
  common: [],
  config: ['common'],
  hashing: [],
  checkpoint: ['common', 'hashing'],
  onnx: ['common', 'hashing'],
  models: ['common', 'hashing', 'checkpoint', 'onnx'],
  parity: ['common', 'checkpoint', 'onnx'],
  diagnose: ['common', 'checkpoint', 'onnx'],
  quantize: ['common', 'checkpoint', 'onnx'],
  storage: ['common', 'config', 'hashing'],
  registry: ['common', 'config', 'storage'],
  bench: ['common', 'config', 'hashing', 'checkpoint', 'onnx'],
  workspace: ['common', 'config', 'hashing', 'checkpoint', 'onnx', 'storage'],
  temporal: ['common', 'config'],
  activities: [...LIBRARIES, 'workspace', 'temporal'],
  // Workflow code: values from common/ only; types from the rooms below (see WORKFLOW_TYPE_ROOMS).
  workflows: ['common'],
  worker: ['common', 'config', 'onnx', 'bench', 'activities', 'temporal', 'workspace'],
  client: [...LIBRARIES, 'workspace', 'temporal', 'workflows', 'worker'],
};
/** Rooms whose types (never values) workflow code may import: the activities' inputs and results. */
const WORKFLOW_TYPE_ROOMS = ['activities', 'parity', 'registry', 'bench'];
const ROOMS = Object.keys(ROOM_IMPORTS);

const onnxProto = {
  name: 'onnx-proto',
  message: 'Only the ONNX encoder and reader (onnx/encode.ts, onnx/serialize-read.ts) may import onnx-proto.',
};
/** The files that may import onnx-proto. */
const ONNX_PROTO_FILES = ['onnx/encode.ts', 'onnx/serialize-read.ts'];
const roomPattern = (room, message, allowTypeImports = false) => ({
  regex: `^(\\.\\./)+${room}(/|$)`,
  message,
  ...(allowTypeImports ? { allowTypeImports: true } : {}),
});

/** The import restrictions of one room: rooms it may not import, test/, and what its code may not use. */
function roomRestrictions(room, { allowOnnxProto = false } = {}) {
  const allowed = new Set([room, ...ROOM_IMPORTS[room]]);
  const typeOnly = room === 'workflows' ? new Set(WORKFLOW_TYPE_ROOMS) : new Set();
  const patterns = [
    ...ROOMS.filter((r) => !allowed.has(r)).map((r) =>
      typeOnly.has(r)
        ? roomPattern(r, `workflows/ may import only types from ${r}/ (it does I/O).`, true)
        : roomPattern(r, `${room}/ may not import ${r}/ (docs/architecture.md, "What each room may import").`),
    ),
    roomPattern('test', 'Production code never imports test/.'),
  ];
  const deterministic = room === 'workflows' || room === 'common';
  const paths = deterministic
    ? [...nodeBuiltins, ...ioPackages].map((name) => ({
        name,
        message: 'Workflow code must stay deterministic: no Node built-ins or I/O packages (use activities).',
      }))
    : allowOnnxProto
      ? []
      : [onnxProto];
  return { '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }] };
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.state*/**',
      'test-artifacts/**',
      '.tmp-build/**',
      'bin/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.mts',
    ],
  },
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [onnxProto] }],
      'import-x/no-cycle': 'error',
    },
  },
  ...ROOMS.map((room) => ({ files: [`${room}/**/*.ts`], rules: roomRestrictions(room) })),
  { files: ONNX_PROTO_FILES, rules: roomRestrictions('onnx', { allowOnnxProto: true }) },
  {
    // Tests, stack scripts and hand-run tools sit outside the rooms and may reach into any of them.
    files: ['test/**/*.ts', 'scripts/**/*.ts', 'tools/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': 'off' },
  },
);
