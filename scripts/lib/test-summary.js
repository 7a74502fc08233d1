// Prints the closing line of a test run from vitest's JSON reports: "N passed, N failed, N skipped".
// A missing report (the runner crashed before writing it) counts as a failure, never as a pass.
'use strict';
const fs = require('node:fs');

let passed = 0, failed = 0, skipped = 0;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) { process.stderr.write(`no test report at ${file}\n`); failed += 1; continue; }
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A file that failed without a failed test did not load or crashed in a hook: count it once.
  for (const file of report.testResults ?? []) {
    const anyTestFailed = (file.assertionResults ?? []).some((a) => a.status === 'failed');
    if (file.status === 'failed' && !anyTestFailed) failed += 1;
  }
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
}
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
