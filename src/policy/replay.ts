import { TrajforgeError } from '../core/errors.js';
import type { Action } from '../core/spaces.js';
import type { Policy } from './policy.js';

/** Replays a recorded action sequence (one episode); asking past its end is an error. */
export class ReplayPolicy implements Policy {
  readonly name = 'replay';
  private t = 0;
  constructor(private readonly actions: readonly Action[]) {}
  reset(): void {
    this.t = 0;
  }
  act(): Action {
    const a = this.actions[this.t];
    if (a === undefined) throw new TrajforgeError('E_POLICY_INVALID', `replay policy: the recording has ${this.actions.length} actions; step ${this.t} asked for more`);
    this.t++;
    return typeof a === 'number' ? a : Float32Array.from(a);
  }
}
