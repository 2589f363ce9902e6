import { Hasher64 } from '../core/hash.js';
import type { SceneSnapshot } from '../core/scene.js';

/** Fingerprint of everything a snapshot holds; equal hashes step by step prove a rollout repeats. */
export function hashSnapshot(s: SceneSnapshot): string {
  const h = new Hasher64();
  h.number(s.step).number(s.time);
  for (const p of s.primitives) {
    h.number(p.id).string(p.name).string(JSON.stringify(p.shape));
    h.numbers(p.position).numbers(p.quaternion).numbers(p.linearVelocity).numbers(p.angularVelocity).numbers(p.color);
  }
  for (const c of s.cameras) h.string(c.name).numbers(c.position).numbers(c.quaternion).number(c.fovY).number(c.width).number(c.height);
  h.numbers(s.light.direction).number(s.light.intensity).number(s.light.ambient);
  return h.hex();
}
