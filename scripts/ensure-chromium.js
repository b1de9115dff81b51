#!/usr/bin/env node
// The UI tests drive Debian's Chromium through playwright-core (Playwright's own browser download
// cannot work offline), and the report tests read PDFs with Debian's poppler-utils (pdftotext,
// pdftoppm). Before `npm test`, make sure both are there: ARGUS_CHROMIUM, or /usr/bin/chromium, and
// /usr/bin/pdftotext + /usr/bin/pdftoppm, installed with apt-get when missing and we may (root).
// Otherwise say exactly what to do.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.ARGUS_CHROMIUM || '/usr/bin/chromium';
const needed = [
  { pkg: 'chromium', files: [chromium], why: `The UI tests need Chromium at ${chromium}`, hint: 'sudo apt-get install chromium, or set ARGUS_CHROMIUM' },
  { pkg: 'poppler-utils', files: ['/usr/bin/pdftotext', '/usr/bin/pdftoppm'], why: 'The report tests need pdftotext and pdftoppm', hint: 'sudo apt-get install poppler-utils' },
].filter((n) => !n.files.every((f) => existsSync(f)));
if (needed.length === 0) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  for (const n of needed) console.error(`${n.why}. Install Debian's package (${n.hint}).`);
  process.exit(1);
}
console.error(`Installing Debian ${needed.map((n) => n.pkg).join(' and ')} for the tests (apt-get) ...`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...needed.map((n) => n.pkg)], { stdio: ['ignore', 'ignore', 'inherit'], env });
const missing = needed.flatMap((n) => n.files).filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`apt-get finished but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} still missing`);
  process.exit(1);
}
