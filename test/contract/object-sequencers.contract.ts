// The object-sequencer contract (ingest/sequencer.ts): both job stores keep the highest S3 sequencer
// per (bucket, key), never lower it, and tell a lower one stale, also under concurrent deliveries
// (separate connections on PostgreSQL).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ObjectSequencerStore } from '../../src/ingest/sequencer.ts';
import type { StoreFactory } from './job-store.contract.ts';

const NOW = new Date('2024-05-01T12:00:00.000Z');

export function objectSequencerContract(name: string, factory: StoreFactory): void {
  const open = async (t: Parameters<StoreFactory['open']>[0]) => {
    const db = await factory.open(t);
    const store = db.store as unknown as ObjectSequencerStore;
    const peer = async () => (await db.peer()) as unknown as ObjectSequencerStore;
    return { store, peer };
  };

  test(`${name} sequencers: a higher one advances, an equal one is current, a lower one stale`, async (t) => {
    const { store } = await open(t);
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '0055AED6DCD90281E5', NOW), 'current');
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '0055AED6DCD90281E5', NOW), 'current');
    // Shorter but numerically lower (padding decides, not text order): stale.
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '55AED6DCD90281E4', NOW), 'stale');
    // Longer and higher; then the first one is stale.
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '0155AED6DCD90281E5', NOW), 'current');
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '0055aed6dcd90281e5', NOW), 'stale');
    // Per bucket and key.
    assert.equal(await store.advanceSequencer('source', 'b.mp4', '01', NOW), 'current');
    assert.equal(await store.advanceSequencer('other', 'a.mp4', '01', NOW), 'current');
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '0155AED6DCD90281E5', NOW), 'current');
  });

  test(`${name} sequencers: concurrent deliveries of v1..v8 leave the highest, and only it stays current`, async (t) => {
    const { store, peer } = await open(t);
    const stores = [store, await peer(), await peer()];
    const seqs = ['0A', '0B', '0C', '0D', '0E', '0F', '10', '11'];
    const shuffled = [...seqs].reverse();
    await Promise.all(
      shuffled.map((s, i) =>
        (stores[i % stores.length] as ObjectSequencerStore).advanceSequencer('source', 'k.mp4', s, NOW),
      ),
    );
    for (const s of seqs.slice(0, -1)) {
      assert.equal(await store.advanceSequencer('source', 'k.mp4', s, NOW), 'stale', s);
    }
    assert.equal(await store.advanceSequencer('source', 'k.mp4', '11', NOW), 'current');
  });

  test(`${name} sequencers: a sequencer that is not hex is refused, nothing stored`, async (t) => {
    const { store } = await open(t);
    await assert.rejects(store.advanceSequencer('source', 'a.mp4', 'zz', NOW), /EVENT_MALFORMED|not a hex/);
    assert.equal(await store.advanceSequencer('source', 'a.mp4', '00', NOW), 'current');
  });
}
