// The local launcher with real worker processes: per-pool capacity refused as CAPACITY_UNAVAILABLE, and
// two attempts of one job alive at once (a preempted worker still exiting while the next attempt runs)
// kept apart: stopping or cleaning up after one never touches the other.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.ts';
import type { WorkerExit } from '../../src/launchers/launcher.ts';
import { LocalProcessLauncher } from '../../src/launchers/local-process-launcher.ts';
import { scratchPrefix } from '../../src/worker/scratch-name.ts';
import { tempDir, waitFor } from '../helpers.ts';
import { freePort } from '../real-server.ts';

async function launcherIn(t: Parameters<typeof tempDir>[0], pools: { name: string; capacity: number }[]) {
  const dataDir = await tempDir(t);
  // Nothing listens there: each worker waits for its server, so it stays alive until stopped.
  const url = `http://127.0.0.1:${await freePort()}`;
  const launcher = new LocalProcessLauncher({ serverUrl: () => url, dataDir, logLevel: 'silent', pools });
  const exits: WorkerExit[] = [];
  launcher.onExit((e) => exits.push(e));
  t.after(() => launcher.shutdown(500));
  return { dataDir, launcher, exits };
}

const isCode = (code: string) => (e: unknown) => e instanceof SluiceError && e.code === code;

test('a pool at its capacity, a pool of capacity 0 and a pool not served refuse with CAPACITY_UNAVAILABLE', async (t) => {
  const { launcher } = await launcherIn(t, [
    { name: 'spot', capacity: 1 },
    { name: 'none', capacity: 0 },
  ]);
  assert.deepEqual(launcher.pools(), ['spot', 'none']);
  await launcher.launch({ jobId: 'j1', leaseToken: 't1', pool: 'spot' });
  assert.equal(launcher.hasCapacity('spot'), false, 'busy with its own worker');
  await assert.rejects(
    launcher.launch({ jobId: 'j2', leaseToken: 't2', pool: 'spot' }),
    isCode('CAPACITY_UNAVAILABLE'),
  );
  assert.equal(launcher.hasCapacity('none'), true, 'a pool of 0 is tried, and refuses');
  await assert.rejects(
    launcher.launch({ jobId: 'j3', leaseToken: 't3', pool: 'none' }),
    isCode('CAPACITY_UNAVAILABLE'),
  );
  await assert.rejects(
    launcher.launch({ jobId: 'j4', leaseToken: 't4', pool: 'gpu' }),
    isCode('CAPACITY_UNAVAILABLE'),
  );
  assert.equal(launcher.running(), 1);
});

test("two attempts of one job at once: the first one's exit leaves the second's worker and scratch folder alone", async (t) => {
  const { dataDir, launcher, exits } = await launcherIn(t, [
    { name: 'spot', capacity: 1 },
    { name: 'on-demand', capacity: 1 },
  ]);
  const tmp = path.join(dataDir, 'tmp');
  await fs.mkdir(tmp, { recursive: true });
  const first = `${scratchPrefix('job-1', 'lease-a')}aaaa`;
  const second = `${scratchPrefix('job-1', 'lease-b')}bbbb`;
  for (const d of [first, second]) await fs.mkdir(path.join(tmp, d));
  await launcher.launch({ jobId: 'job-1', leaseToken: 'lease-a', pool: 'spot' });
  await launcher.launch({ jobId: 'job-1', leaseToken: 'lease-b', pool: 'on-demand' });
  assert.equal(launcher.running(), 2);
  // The first attempt's worker dies (as a preempted one exits): only its own folder goes.
  // Stop by attempt is not in the Launcher seam; kill the first worker directly, as a preemption would.
  const children = (launcher as unknown as { children: Map<string, { child: { pid: number } }> }).children;
  const firstPid = children.get('lease-a')?.child.pid;
  assert.ok(firstPid);
  process.kill(firstPid, 'SIGKILL');
  await waitFor('first exit seen', async () => exits.some((e) => e.leaseToken === 'lease-a'));
  await waitFor('first scratch removed', async () => !(await fs.readdir(tmp)).includes(first));
  // Give the cleanup its full chance to go wrong (it waits for the group, then removes by prefix).
  await new Promise((r) => setTimeout(r, 500));
  assert.ok((await fs.readdir(tmp)).includes(second), "the second attempt's scratch folder is still there");
  assert.equal(launcher.running(), 1, 'the second attempt still counts as running');
  assert.equal(launcher.hasCapacity('on-demand'), false, 'and still holds its pool');
  assert.equal(launcher.hasCapacity('spot'), true, 'the first freed its pool');
});
