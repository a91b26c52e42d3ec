#!/usr/bin/env node
// Entry point of the `sluice` command. Sources are TypeScript run through tsx's loader, so a fresh clone
// needs no build step; the worker processes the scheduler launches start through this same file.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
