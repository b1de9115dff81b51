#!/usr/bin/env node
// The UI tests drive Debian's Chromium through playwright-core (Playwright's own browser download
// cannot work offline). Before `npm test`, make sure it is there: ARGUS_CHROMIUM, or /usr/bin/chromium,
// installed with apt-get when missing and we may (root). Otherwise say exactly what to do.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const wanted = process.env.ARGUS_CHROMIUM || '/usr/bin/chromium';
if (existsSync(wanted)) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  console.error(`The UI tests need Chromium at ${wanted}. Install Debian's package (sudo apt-get install chromium) or set ARGUS_CHROMIUM.`);
  process.exit(1);
}
console.error('Installing Debian chromium for the UI tests (apt-get) ...');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
if (!existsSync(wanted)) {
  console.error(`apt-get finished but ${wanted} is still missing`);
  process.exit(1);
}
