/**
 * Replays the committed histories of real exports (test/histories/, captured from a real server by
 * scripts/capture-histories.ts) against today's workflow code with Worker.runReplayHistories: a change
 * to exportModel (fp32 alone, with its int8 variant published or failed alone), trainingWithExport or
 * promoteModel (moved or refused) that alters the commands they issue, without patched(), fails here
 * with the history's name. No servers: replay runs the workflow bundle in-process.
 * The files are protobufjs' JSON of the History message (what JSON.stringify(handle.fetchHistory())
 * writes), read back with History.fromObject.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowsEntry } from '../../worker/run-worker';

const HISTORIES = join(__dirname, '..', 'histories');
/** The histories the capture script writes; a missing one is a failure, not a smaller test. */
const EXPECTED = [
  'export-bad-input.json',
  'export-int8-failed.json',
  'export-int8.json',
  'export-parity-failed.json',
  'export-success.json',
  'promote-model.json',
  'promote-refused.json',
  'training-parent-child.json',
  'training-parent.json',
];
/** Bundling the workflows with webpack takes most of this; the replays themselves are quick. */
const REPLAY_TIMEOUT_MS = 120_000;

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process: keep the first.
}

describe('replay of committed histories', () => {
  it('every committed history is there', () => {
    expect(
      readdirSync(HISTORIES)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).toEqual(expect.arrayContaining(EXPECTED));
  });

  it(
    "today's workflow code replays every committed history deterministically",
    async () => {
      const files = readdirSync(HISTORIES)
        .filter((f) => f.endsWith('.json'))
        .sort();
      const histories = files.map((file) => ({
        workflowId: file,
        history: temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(HISTORIES, file), 'utf8'))),
      }));
      const results: { file: string; error: string | undefined }[] = [];
      for await (const result of Worker.runReplayHistories(
        { workflowsPath: workflowsEntry(), replayName: 'committed-histories' },
        histories,
      )) {
        results.push({
          file: result.workflowId,
          error: result.error ? `${result.error.name}: ${result.error.message}` : undefined,
        });
      }
      expect(results).toEqual(files.map((file) => ({ file, error: undefined })));
    },
    REPLAY_TIMEOUT_MS,
  );
});
