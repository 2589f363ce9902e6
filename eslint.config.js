import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'schema/', 'test-artifacts/', 'models/'] },
  js.configs.recommended,
  { files: ['bin/**/*.js', 'scripts/**/*.ts'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Only the CLI entry point may print or exit; everything else throws TrajforgeError.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'throw TrajforgeError; src/cli/main.ts exits' }],
    },
  },
  {
    // Deleting is where users lose data: only src/output/remove.ts deletes, and it refuses what the tool did not write.
    files: ['src/**/*.ts'],
    ignores: ['src/output/remove.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:fs', 'fs', 'node:fs/promises', 'fs/promises'].map((name) => ({
            name,
            importNames: ['rm', 'rmSync', 'rmdir', 'rmdirSync', 'unlink', 'unlinkSync'],
            message: 'delete through removeOwn / removeEmptyFolder (src/output/remove.ts)',
          })),
        },
      ],
    },
  },
  {
    // Config, simulation, policies, rendering, models and reports run in workers and browsers: no I/O.
    // (A model directory is read and written by src/model/store.ts only, a policy file read by src/policy/load.ts only.)
    // The pages' code (src/web/<app>/) runs only in browsers: the same rule.
    files: ['src/config/**/*.ts', 'src/sim/**/*.ts', 'src/policy/**/*.ts', 'src/render/**/*.ts', 'src/core/**/*.ts', 'src/model/**/*.ts', 'src/report/**/*.ts', 'src/web/view/**/*.ts', 'src/web/play/**/*.ts'],
    ignores: ['src/config/load.ts', 'src/model/store.ts', 'src/policy/load.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'child_process', 'os'], message: 'no I/O outside load.ts / cli / export / video' }] }],
      'no-restricted-globals': ['error', { name: 'process', message: 'no process access in pure modules' }],
    },
  },
);
