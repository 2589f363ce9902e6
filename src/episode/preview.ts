import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import { deriveSeed } from '../core/rng.js';
import { makePolicy, type PolicyKind } from '../policy/index.js';
import { isPending, type AnyPolicy } from '../policy/policy.js';
import { frameStrip } from '../render/colorize.js';
import { CHANNELS, Renderer, type Channel, type FrameSet } from '../render/renderer.js';
import { createEnv } from '../sim/env.js';

export interface PreviewOptions {
  seed: number;
  step: number;
  camera?: string;
  /** A built-in kind, or a policy object (e.g. an ONNX policy, whose actions are awaited). */
  policy?: PolicyKind | AnyPolicy;
  channels?: Channel[];
  supersample?: number;
}

export interface Preview {
  camera: string;
  frames: FrameSet;
  /** rgb followed by a false-colour tile per other channel. */
  strip: { width: number; height: number; rgb: Uint8Array };
}

/**
 * Rolls an environment to step K from seed S and renders one camera with every channel it
 * declares (flow towards step K + 1): what `trajforge render` shows and the golden images pin.
 */
export async function renderPreview(resolved: ResolvedEnv, opts: PreviewOptions): Promise<Preview> {
  const env = await createEnv(resolved);
  try {
    const cameras = resolved.config.cameras;
    if (cameras.length === 0) throw new TrajforgeError('E_USAGE', `${resolved.config.id} declares no cameras`);
    const cam = opts.camera === undefined ? cameras[0]! : cameras.find((c) => c.name === opts.camera);
    if (!cam) throw new TrajforgeError('E_USAGE', `${resolved.config.id} has no camera '${opts.camera}' (cameras: ${cameras.map((c) => c.name).join(', ')})`);
    const given = opts.policy ?? (env.spec.hasExpert ? 'expert' : 'noise');
    const policy: AnyPolicy = typeof given === 'string' ? makePolicy(given, env) : given;
    const act = async (o: Float32Array) => {
      const a = policy.act(o, env);
      return isPending(a) ? await a : a;
    };
    let { obs } = env.reset({ seed: opts.seed });
    policy.reset(deriveSeed(opts.seed, 'policy'));
    for (let t = 0; t < opts.step; t++) {
      const r = env.step(await act(obs));
      obs = r.obs;
      if (r.terminated || r.truncated) throw new TrajforgeError('E_USAGE', `the episode with seed ${opts.seed} ends at step ${t + 1}, before step ${opts.step}`);
    }
    const scene = env.snapshot();
    env.step(await act(obs));
    const next = env.snapshot();
    const channels = opts.channels ?? (cam.channels.filter((c) => (CHANNELS as readonly string[]).includes(c)) as Channel[]);
    const frames = new Renderer({ supersample: opts.supersample ?? 1 }).render(scene, cam.name, channels, next);
    return { camera: cam.name, frames, strip: frameStrip(frames) };
  } finally {
    env.close();
  }
}
