/**
 * The browser the interop suites drive: Debian's Chromium (.ci/run installs it with apt) through
 * playwright-core, headless, with no browser download. The flags keep Chromium off the network:
 * this machine's closed network refuses its background connections.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** Where a suite's screenshots go (kept as CI artefacts): test-artifacts/browser/<name>. */
export function artifactPath(name: string): string {
  const dir = resolve('test-artifacts', 'browser');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
