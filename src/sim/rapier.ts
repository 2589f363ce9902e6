import RAPIER from '@dimforge/rapier3d-compat';

/**
 * Rapier is loaded once per thread (the compat build inlines its WASM, so no file access and it
 * works in workers and browsers). 0.19.3 is pinned on purpose: measured ~2x faster than 0.21.0
 * on our scenes (see README, "Physics engine").
 */
export type Rapier = typeof RAPIER;

let ready: Promise<Rapier> | null = null;

export function loadRapier(): Promise<Rapier> {
  const loading = ready ?? initQuietly();
  ready = loading;
  return loading;
}

/** rapier's compat init warns about wasm-bindgen's deprecated call form it uses itself; not ours to act on. */
/* eslint-disable no-console -- filters one known third-party warning; prints nothing itself */
async function initQuietly(): Promise<Rapier> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('deprecated parameters for the initialization')) return;
    warn(...args);
  };
  try {
    await RAPIER.init();
  } finally {
    console.warn = warn;
  }
  return RAPIER;
}
