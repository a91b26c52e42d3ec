// `sluice webhooks add|list|test|remove|deliveries|rotate|redeliver|enable|disable`: webhook subscriptions
// and their delivery log, through the API of a running `sluice serve` (webhook-routes.ts).
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { DeliveryView } from '../api/webhook-routes.ts';
import { SluiceError } from '../errors.ts';
import type { WebhookView } from '../notify/webhook-subscriptions.ts';
import type { ApiClient } from './api-client.ts';
import { useColor } from './color.ts';

const plain = () => (useColor() ? {} : { style: { head: [], border: [] } });
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--match application=shop` → { application: 'shop' }. */
export function parseMatches(pairs: string[]): Record<string, string> {
  const match: Record<string, string> = {};
  for (const p of pairs) {
    const at = p.indexOf('=');
    if (at < 1) {
      throw new SluiceError(
        'WEBHOOK_INVALID',
        `--match ${p}: give a userMetadata field and its value, key=value`,
      );
    }
    match[p.slice(0, at)] = p.slice(at + 1);
  }
  return match;
}

const describeMatch = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'any job';

export function webhooksTable(list: WebhookView[]): string {
  const table = new Table({ head: ['ID', 'URL', 'EVENTS', 'MATCH', 'STATE', 'CREATED'], ...plain() });
  for (const w of list) {
    table.push([
      w.id,
      w.url,
      w.eventTypes.length === 0 ? 'all' : w.eventTypes.map((t) => t.replace(/^sluice\./, '')).join('\n'),
      describeMatch(w.match),
      w.enabled ? 'enabled' : `disabled: ${w.disabledReason ?? ''}`,
      w.createdAt,
    ]);
  }
  return table.toString();
}

export function deliveriesTable(list: DeliveryView[]): string {
  const table = new Table({
    head: ['DELIVERY', 'EVENT', 'JOB', 'STATUS', 'ATTEMPTS', 'LAST', 'UPDATED'],
    ...plain(),
  });
  for (const d of list) {
    const last = d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : (d.lastError ?? '');
    table.push([
      d.id,
      `${d.eventType.replace(/^sluice\./, '')}\n${d.eventId}`,
      d.jobId,
      d.status === 'PENDING' && d.nextAttemptAt ? `PENDING\nnext ${d.nextAttemptAt}` : d.status,
      String(d.attempts),
      last.length > 60 ? `${last.slice(0, 57)}...` : last,
      d.updatedAt,
    ]);
  }
  return table.toString();
}

export function registerWebhookCommands(program: Command, api: () => Promise<ApiClient>): void {
  const webhooks = program
    .command('webhooks')
    .description('webhook subscriptions (Standard Webhooks) and their delivery log');

  webhooks
    .command('add')
    .description('subscribe a URL to job events (its signing secret is printed once)')
    .argument('<url>', 'where events are POSTed (http or https)')
    .option('--event <type>', 'an event type to send (repeatable; default: every type)', collect, [])
    .option(
      '--match <key=value>',
      'only jobs whose userMetadata has key=value (repeatable; all must match)',
      collect,
      [],
    )
    .option('--description <text>', 'a note for `list`')
    .option('--json', 'print JSON')
    .action(
      async (url: string, o: { event: string[]; match: string[]; description?: string; json?: boolean }) => {
        const made = await (await api()).createWebhook({
          url,
          ...(o.event.length > 0 ? { eventTypes: o.event } : {}),
          ...(o.match.length > 0 ? { match: parseMatches(o.match) } : {}),
          ...(o.description ? { description: o.description } : {}),
        });
        if (o.json) return console.log(JSON.stringify(made, null, 2));
        console.log(`${made.id}  ${made.url}`);
        console.log(`secret ${made.secret}`);
        console.error(
          'the secret is shown only now: receivers verify the webhook-signature header with it (docs/notifications.md#webhooks)',
        );
      },
    );

  webhooks
    .command('list')
    .description('list webhook subscriptions (never their secrets)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { webhooks: list } = await (await api()).listWebhooks();
      if (o.json) console.log(JSON.stringify(list, null, 2));
      else if (list.length === 0) console.log('no webhook subscriptions');
      else console.log(webhooksTable(list));
    });

  webhooks
    .command('test')
    .description('send a sluice.webhook.test event now and show what the receiver answered')
    .argument('<id>', 'subscription id (from `list`)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const r = await (await api()).testWebhook(id);
      if (o.json) console.log(JSON.stringify(r, null, 2));
      else if (r.ok)
        console.log(`${r.webhook}  delivered: HTTP ${r.statusCode} in ${r.durationMs} ms (${r.eventId})`);
      else console.log(`${r.webhook}  not delivered: ${r.error} (${r.durationMs} ms)`);
      if (!r.ok) process.exitCode = 1;
    });

  webhooks
    .command('remove')
    .description('remove a subscription; its pending deliveries are discarded')
    .argument('<id>', 'subscription id')
    .action(async (id: string) => {
      const r = await (await api()).removeWebhook(id);
      console.log(`${r.id}  removed (${r.discardedDeliveries} pending deliveries discarded)`);
    });

  webhooks
    .command('deliveries')
    .description("a subscription's delivery log, newest first, with each delivery's attempts")
    .argument('<id>', 'subscription id')
    .option('--job <id>', 'only this job')
    .option('--status <status>', 'PENDING | DELIVERED | FAILED | DISCARDED')
    .option('--limit <n>', 'at most this many (default 100)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { job?: string; status?: string; limit?: string; json?: boolean }) => {
      const limit = o.limit === undefined ? undefined : Number(o.limit);
      const { deliveries } = await (await api()).webhookDeliveries(id, {
        ...(o.job ? { jobId: o.job } : {}),
        ...(o.status ? { status: o.status } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      if (o.json) console.log(JSON.stringify(deliveries, null, 2));
      else if (deliveries.length === 0) console.log('no deliveries');
      else console.log(deliveriesTable(deliveries));
    });

  webhooks
    .command('rotate')
    .description('a new signing secret (printed once); the old one keeps signing too during the overlap')
    .argument('<id>', 'subscription id')
    .option('--overlap <seconds>', 'how long the old secret still signs (default 86400, 24 h)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { overlap?: string; json?: boolean }) => {
      const overlap = o.overlap === undefined ? undefined : Number(o.overlap);
      if (overlap !== undefined && !Number.isInteger(overlap)) {
        throw new SluiceError('WEBHOOK_INVALID', `--overlap ${o.overlap}: give whole seconds`);
      }
      const r = await (await api()).rotateWebhookSecret(id, overlap);
      if (o.json) return console.log(JSON.stringify(r, null, 2));
      console.log(`secret ${r.secret}`);
      console.error(
        `the new secret is shown only now; the previous one also signs until ${r.previousSecretExpiresAt}: update the receiver before then`,
      );
    });

  webhooks
    .command('redeliver')
    .description('send a delivery again, with the same webhook-id (from `deliveries`)')
    .argument('<delivery>', 'delivery id (dlv_…)')
    .action(async (deliveryId: string) => {
      const d = await (await api()).redeliver(deliveryId);
      console.log(`${d.id}  ${d.status}: redelivery of ${d.eventId} to ${d.target} queued`);
    });

  webhooks
    .command('enable')
    .description('enable a disabled subscription (after a 410, or `disable`)')
    .argument('<id>', 'subscription id')
    .action(async (id: string) => {
      const w = await (await api()).updateWebhook(id, { enabled: true });
      console.log(`${w.id}  enabled`);
    });

  webhooks
    .command('disable')
    .description('stop sending to a subscription; its pending deliveries are discarded')
    .argument('<id>', 'subscription id')
    .option('--reason <text>', 'why (shown in `list`)')
    .action(async (id: string, o: { reason?: string }) => {
      const w = await (await api()).updateWebhook(id, {
        enabled: false,
        ...(o.reason ? { reason: o.reason } : {}),
      });
      console.log(`${w.id}  disabled: ${w.disabledReason}`);
    });
}
