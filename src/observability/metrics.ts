import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Proofline's Prometheus metrics, on a registry of its own so tests and instances never share one. */
export class Metrics {
  readonly registry = new Registry();

  readonly appendDuration = new Histogram({
    name: 'proofline_eventstore_append_duration_seconds',
    help: 'Time to append one batch of signed events, from call to commit',
    labelNames: ['outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly appendedEvents = new Counter({
    name: 'proofline_eventstore_appended_events_total',
    help: 'Events appended to the store (rate() of it is the append throughput)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'proofline_commands_total',
    help: 'Commands handled, by aggregate and outcome',
    labelNames: ['category', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly relayPublished = new Counter({
    name: 'proofline_relay_published_events_total',
    help: 'Events the relay published to Kafka and the broker acknowledged (rate() of it is events published per second)',
    registers: [this.registry],
  });

  readonly relayLagEvents = new Gauge({
    name: 'proofline_relay_lag_events',
    help: 'Events in the store not yet published by the relay',
    registers: [this.registry],
  });

  readonly relayLagSeconds = new Gauge({
    name: 'proofline_relay_lag_seconds',
    help: 'Age of the newest event the relay published, when it published it',
    registers: [this.registry],
  });

  readonly relayTenantHalted = new Gauge({
    name: 'proofline_relay_tenant_halted',
    help: '1 for each tenant whose Kafka publishing stopped at a stored row that is not one canonical byte string or is filed under another stream or tenant than its envelope names (code: EVENT.NOT_CANONICAL, EVENT.MALFORMED, EVENT.MISFILED); its later events are held, other tenants go on',
    labelNames: ['tenant', 'code'] as const,
    registers: [this.registry],
  });

  readonly projectionApplied = new Counter({
    name: 'proofline_projection_applied_events_total',
    help: 'Events a projector applied (duplicates and other types excluded)',
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly projectionDeadLetters = new Counter({
    name: 'proofline_projection_dead_letters_total',
    help: 'Events a projector sent to the dead-letter table',
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly projectionLagEvents = new Gauge({
    name: 'proofline_projection_lag_events',
    help: "Events not yet applied by a projector (through Kafka: the consumer group's offset lag)",
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly projectionLagSeconds = new Gauge({
    name: 'proofline_projection_lag_seconds',
    help: 'How stale a projector is: 0 when caught up, else the time since the last event it applied occurred',
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly projectionEndToEndSeconds = new Histogram({
    name: 'proofline_projection_end_to_end_seconds',
    help: "From an event's occurredAt to its projector's commit",
    labelNames: ['projector'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly projectionConsumerReplacements = new Counter({
    name: 'proofline_projection_consumer_replacements_total',
    help: "Kafka consumers of a projector replaced by a fresh one (reason: crashed, kafkajs gave up on it; stalled, its group had lag but it delivered no batch for PROOFLINE_KAFKA_STALL_SECONDS)",
    labelNames: ['projector', 'reason'] as const,
    registers: [this.registry],
  });

  readonly projectionBatchFailures = new Counter({
    name: 'proofline_projection_batch_failures_total',
    help: 'Batches a projector failed to apply and retries (a database outage, a stream version missing from the event store); the reason is the lastError of GET /projections/status',
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly projectionGapFills = new Counter({
    name: 'proofline_projection_gap_fills_total',
    help: "Events a projector read from the event store because a later version of their stream arrived first (a repartitioned topic, a lost Kafka offset): applied in stream order, never skipped",
    labelNames: ['projector'] as const,
    registers: [this.registry],
  });

  readonly ledgerTenantHalted = new Gauge({
    name: 'proofline_ledger_tenant_halted',
    help: "1 for each tenant whose receipts stopped at a bad event (code: LEDGER.UNVERIFIABLE_EVENT, LEDGER.NOT_CANONICAL, LEDGER.DUPLICATE_EVENT); other tenants go on",
    labelNames: ['tenant', 'code'] as const,
    registers: [this.registry],
  });

  readonly eventHorizonAgeSeconds = new Gauge({
    name: 'proofline_event_horizon_age_seconds',
    help: 'Seconds since the oldest transaction holding a transaction id anywhere in the PostgreSQL cluster began (sessions and prepared transactions); global reads (relay, projectors, receipt builder) stop below it. 0 when none holds one',
    registers: [this.registry],
  });

  readonly ledgerForkRefused = new Gauge({
    name: 'proofline_ledger_fork_refused',
    help: "1 for each tenant whose tree the signer refuses to sign (LEDGER.FORK_REFUSED): it does not extend the last signed head kept beside the key. Alert on it",
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'proofline_' });
  }
}
