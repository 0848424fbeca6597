// Prints the closing line "N passed, N failed[, N skipped]" that CI reads when Jest's own summary is
// not recognised, after a loud notice when the Push Stream Module's runs were left out on purpose.
export default class PlainSummaryReporter {
  onRunComplete(_contexts, results) {
    if (process.env.SKIP_PUSH_STREAM === '1') {
      const bar = '!'.repeat(78);
      process.stdout.write(
        `\n${bar}\n!! SKIP_PUSH_STREAM=1: the nginx suites ran on Nchan only. The Push Stream Module,\n` +
          `!! the default server, was NOT tested. Unset SKIP_PUSH_STREAM to test it.\n${bar}\n`,
      );
    }
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
