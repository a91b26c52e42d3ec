// GET /metrics (Prometheus text format) and GET /v1/ready (readiness: 200, or 503 problem+json naming
// what is down). GET /v1/health, the liveness check, stays in server.ts. docs/observability.md.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';
import { sendProblem } from './problem.ts';
import type { Readiness } from './readiness.ts';

export const METRICS_ROUTE = '/metrics';
export const READY_ROUTE = '/v1/ready';

export function registerObservabilityRoutes(
  app: FastifyInstance,
  o: { metrics?: Metrics | undefined; readiness: Readiness },
): void {
  app.get(READY_ROUTE, async (req, reply) => {
    const down = await o.readiness.check();
    if (down) return sendProblem(reply, down, req);
    return { status: 'ready' };
  });
  const metrics = o.metrics;
  if (metrics) {
    app.get(METRICS_ROUTE, async (_req, reply) => {
      const { contentType, body } = await metrics.scrape();
      return reply.type(contentType).send(body);
    });
  }
}
