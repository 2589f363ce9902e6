import { defineConfig } from 'vitest/config';

// `npm run test:interop`: the files read by the Python consumers users run (Debian's numpy, h5py,
// onnx, PyTorch, PyAV; .ci/run installs them with apt). `npm test` needs none of them.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Its own report file: .ci/run prints a closing line per suite.
    reporters: ['default', ['json', { outputFile: '.vitest-interop-report.json' }]],
  },
});
