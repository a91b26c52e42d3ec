// The ObjectStore contract on the embedded default: local folders under a fresh data directory.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalObjectStore } from '../../src/storage/local-object-store.ts';
import { objectStoreContract } from './object-store.contract.ts';

objectStoreContract('LocalObjectStore', {
  async open(t) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sluice-objects-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const store = new LocalObjectStore(dir);
    await store.ensureBucket('source');
    await store.ensureBucket('destination');
    return store;
  },
});
