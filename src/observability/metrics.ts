import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'proofline_' });
  }
}
