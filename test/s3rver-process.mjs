// s3rver in a process of its own, for test/s3rver.ts: `node --openssl-legacy-provider s3rver-process.mjs
// DIR BUCKET…` prints `{"port":N}` once listening on 127.0.0.1 and runs until killed. The legacy provider
// is needed because s3rver makes its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17+)
// only has there.
import S3rver from 's3rver';

const [dir, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: dir,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});
const addr = await server.run();
process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
