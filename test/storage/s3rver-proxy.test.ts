// The S3 protocol server the tests use (s3rver behind test/s3rver.ts's proxy) must keep S3's promise that
// a PUT is atomic: concurrent PUTs of one key end as one whole body, never a mix. s3rver alone writes in
// place and was seen to mix two bodies (60 000 b's over 70 000 c's) in the store contract in CI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3rver } from '../s3rver.ts';

test('s3rver behind the test proxy (a real S3-protocol server on loopback): concurrent PUTs of one key never mix', async (t) => {
  const s3 = await startS3rver(t);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
  });
  t.after(() => client.destroy());
  const bodies = ['a', 'b', 'c', 'd'].map((c, i) => Buffer.alloc(2_000_000 + i * 100_000, c));
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      bodies.map((Body) => client.send(new PutObjectCommand({ Bucket: 'source', Key: 'race.bin', Body }))),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: 'source', Key: 'race.bin' }));
    const data = Buffer.from(
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    assert.ok(
      bodies.some((b) => b.equals(data)),
      `round ${round}: one whole body (${data.length} bytes, first ${String.fromCharCode(data[0] ?? 0)}, last ${String.fromCharCode(data.at(-1) ?? 0)})`,
    );
  }
});
