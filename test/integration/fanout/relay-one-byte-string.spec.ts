import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import request from 'supertest';
import { canonicalJson, newEventId, type EventEnvelope, type JsonObject } from '../../../contracts';
import { formatPosition } from '../../../src/eventstore/global-position';
import { HEADERS } from '../../../src/fanout/topics';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { storeHead } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

/**
 * Issue 23, item 5: the relay publishes only the one canonical byte string of each event. A row
 * an operator with superuser rights rewrote (triggers off) to `"amount":999999,"amount":100` —
 * which parses to 100 and verifies, while a consumer keeping the first value reads 999999 — is
 * never published; it halts its own tenant's publishing, named at its position, and nobody else's.
 */
describeWithService('kafka', 'the relay publishes one byte string per event', () => {
  let t: TestApp;
  let consumer: Consumer | undefined;
  const prefix = `onebyte-${randomBytes(4).toString('hex')}`;
  const topic = `${prefix}.things.events.v1`;
  /** Every message on the topic: event id → the values published for it. */
  const published = new Map<string, string[]>();
  const order: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
  }, 60_000);
  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await t?.close();
  }, 30_000);

  function thing(tenantId: string, data: JsonObject): EventEnvelope {
    const commandId = randomUUID();
    return t.infrastructure.signer.seal({
      id: newEventId(),
      type: 'things.thing-happened',
      schemaVersion: 1,
      streamId: `things-${tenantId}`,
      tenantId,
      occurredAt: new Date().toISOString(),
      actor: { id: 'relay-test', role: 'ADMIN' },
      data,
      metadata: { correlationId: commandId, causationId: commandId, commandId },
    });
  }

  async function append(tenantId: string, data: JsonObject): Promise<EventEnvelope> {
    const event = thing(tenantId, data);
    await t.infrastructure.store.append(event.streamId, [event], 'any');
    return event;
  }

  /** What a superuser can do: switch the append-only trigger off and rewrite a row's bytes. */
  async function overwrite(eventId: string, bytes: string): Promise<void> {
    await t.infrastructure.database.knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await trx('events').where({ event_id: eventId }).update({ envelope: bytes });
      await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
    });
  }

  async function consume(): Promise<void> {
    const kafka = new Kafka({ clientId: 'one-byte-string', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING });
    consumer = kafka.consumer({ groupId: `${prefix}-check`, maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const id = String(message.headers?.[HEADERS.eventId]);
        published.set(id, [...(published.get(id) ?? []), message.value!.toString('utf8')]);
        order.push(id);
      },
    });
  }

  const relayCheckpoint = async () => formatPosition(await t.infrastructure.fanout.relay!.checkpoint());

  it('given a row of tenant T rewritten to duplicate-key bytes, then it is never published, T is halted at it (status, metrics), T\'s later events are held, the other tenant goes on; once the row is restored, the held events are published and the halt lifted', async () => {
    const T = `victim-${randomUUID()}`;
    const B = `bystander-${randomUUID()}`;
    const first = await append(T, { amount: 1 });
    const planted = await append(T, { amount: 100 });
    const canonical = canonicalJson(planted);
    const duplicated = canonical.replace('"amount":100', '"amount":999999,"amount":100');
    expect(duplicated).not.toBe(canonical);
    expect((JSON.parse(duplicated) as EventEnvelope).data).toEqual({ amount: 100 }); // it parses to what was signed
    await overwrite(planted.id, duplicated);
    const laterT = await append(T, { amount: 5 });
    const other = await append(B, { amount: 6 });
    const plantedRow = (await t.infrastructure.store.readStream(planted.streamId)).find((event) => event.envelope.id === planted.id)!;

    await t.infrastructure.fanout.start();
    await consume();

    // The relay passes the whole store (B's event is after the planted row), publishing around it.
    const head = formatPosition(await storeHead(t.infrastructure.database.knex));
    await eventually(relayCheckpoint, (position) => position === head, 60_000);
    await eventually(async () => published.has(other.id) && published.has(first.id), Boolean, 60_000);
    expect(published.has(planted.id)).toBe(false);
    expect(published.has(laterT.id)).toBe(false);
    expect([...published.values()].flat().some((value) => value.includes('999999'))).toBe(false);

    const status = await t.infrastructure.fanout.status();
    expect(status.relay?.halts).toEqual([
      expect.objectContaining({
        tenantId: T,
        code: 'EVENT.NOT_CANONICAL',
        eventId: planted.id,
        streamId: planted.streamId,
        streamVersion: plantedRow.streamVersion,
        position: formatPosition(plantedRow.position),
      }),
    ]);
    expect(status.relay?.halts[0].message).toContain(`tenant ${T}`);
    expect(status.relay?.halts[0].message).toContain(formatPosition(plantedRow.position));
    const metrics = await request(t.server).get('/metrics').expect(200);
    expect(metrics.text).toContain(`proofline_relay_tenant_halted{tenant="${T}",code="EVENT.NOT_CANONICAL"} 1`);

    // While the row is still bad, nothing of T after it goes out; B goes on.
    const stillHeld = await append(T, { amount: 7 });
    const afterB = await append(B, { amount: 8 });
    await eventually(async () => published.has(afterB.id), Boolean, 60_000);
    expect(published.has(stillHeld.id)).toBe(false);
    expect(published.has(planted.id)).toBe(false);

    // The operator restores the signed bytes: the held events go out in store order, the halt is lifted.
    await overwrite(planted.id, canonical);
    const nudge = await append(B, { amount: 9 }); // the relay looks at halts again when it has a batch (at most every 5 s)
    await eventually(async () => published.has(stillHeld.id), Boolean, 60_000);
    await eventually(async () => published.has(nudge.id), Boolean, 60_000);
    expect(published.get(planted.id)).toEqual([canonical]);
    expect(published.has(laterT.id)).toBe(true);
    const at = (id: string) => order.indexOf(id);
    expect(at(first.id) < at(planted.id) && at(planted.id) < at(laterT.id) && at(laterT.id) < at(stillHeld.id)).toBe(true); // T's events in store order
    expect((await t.infrastructure.fanout.status()).relay?.halts).toEqual([]);
    expect((await request(t.server).get('/metrics').expect(200)).text).not.toContain(`proofline_relay_tenant_halted{tenant="${T}"`);
  }, 180_000);
});
