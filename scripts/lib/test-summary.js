// Prints the closing line of a test run from vitest's JSON reports: "N passed, N failed, N skipped".
// Usage: node test-summary.js REPORT.json:EXIT_CODE ...
// A missing report (the runner crashed before writing it), a file that failed to load, and a runner
// that exited non-zero with no failed test (an unhandled error) each count as a failure, never a pass.
'use strict';
const fs = require('node:fs');

let passed = 0,
  failed = 0,
  skipped = 0;
for (const arg of process.argv.slice(2)) {
  const sep = arg.lastIndexOf(':');
  const file = arg.slice(0, sep);
  const exitCode = Number(arg.slice(sep + 1));
  if (!fs.existsSync(file)) {
    process.stderr.write(`no test report at ${file}\n`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  let failedHere = report.numFailedTests;
  for (const result of report.testResults ?? []) {
    const anyTestFailed = (result.assertionResults ?? []).some((a) => a.status === 'failed');
    if (result.status === 'failed' && !anyTestFailed) failedHere += 1;
  }
  if (exitCode !== 0 && failedHere === 0) {
    process.stderr.write(
      `${file}: the runner exited ${exitCode} with no failed test (an unhandled error); counted as a failure\n`,
    );
    failedHere = 1;
  }
  passed += report.numPassedTests;
  failed += failedHere;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
}
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
