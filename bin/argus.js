#!/usr/bin/env node
// The `argus` command: runs the TypeScript CLI through tsx's loader (no build step to go stale).
import { register } from 'tsx/esm/api';

register();
await import('../src-main/cli.ts');
