import { expect } from 'vitest';
import { TrajforgeError } from '../../src/core/errors.js';

/** The TrajforgeError a promise rejects with (fails the test on a resolve or any other error). */
export async function rejection(p: Promise<unknown>): Promise<TrajforgeError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TrajforgeError);
  return e as TrajforgeError;
}
