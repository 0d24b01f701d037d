import type { Redis } from 'ioredis';
import { closeRedis, openRedis, unavailable } from '../auth/state/redis-connection';
import { authStoreOf, eventStoreOf, fanoutOf, type ProoflineConfig } from '../config/proofline-config';
import { oneLineMessage } from '../config/setting-failure';
import type { Database } from '../database/database';
import type { EventStore } from '../eventstore/event-store.port';
import type { Fanout } from '../fanout/fanout';
import type { KeyRegistry } from '../signing/key-registry';

/** How long one dependency may take to answer before it counts as down: a readiness probe must not hang. */
export const CHECK_TIMEOUT_MS = 3_000;

export interface DependencyReport {
  readonly up: boolean;
  /** What the check learnt (engine, key id, brokers…); `message` says why when down. */
  readonly details: Record<string, unknown>;
}

/** One dependency this instance needs; `run` never throws. */
export interface DependencyCheck {
  readonly name: string;
  run(): Promise<DependencyReport>;
}

export interface ReadinessParts {
  readonly config: ProoflineConfig;
  readonly database: Database;
  readonly store: EventStore;
  readonly keys: KeyRegistry;
  readonly fanout: Fanout;
}

/**
 * The dependencies this instance was configured with, each asked on every call: the event store
 * (and the PostgreSQL database beside it when events live in EventStoreDB), the signing key,
 * Redis when it holds sessions and rate limits, Kafka when it carries the events to the
 * projectors (with the relay's lease). Every one listed is required: one down makes the
 * instance not ready.
 */
export class Readiness {
  readonly checks: readonly DependencyCheck[];
  private readonly redis?: RedisProbe;

  constructor(parts: ReadinessParts) {
    const { config, database, store, keys, fanout } = parts;
    const onEventStoreDb = eventStoreOf(config) === 'eventstoredb';
    const checks: DependencyCheck[] = [
      timed('eventStore', { engine: onEventStoreDb ? 'eventstoredb' : database.kind }, () => store.ping()),
    ];
    if (onEventStoreDb) {
      checks.push(
        timed('database', { engine: database.kind }, async () => {
          await database.knex.raw('SELECT 1');
        }),
      );
    }
    checks.push(
      timed('signing', {}, () => {
        const key = keys.active();
        return { keyId: key.keyId, alg: key.alg };
      }),
    );
    if (authStoreOf(config) === 'redis') {
      const redis = (this.redis = new RedisProbe(config.REDIS_URL!));
      checks.push(timed('redis', {}, () => redis.ping()));
    }
    if (fanoutOf(config) === 'kafka') checks.push(kafkaCheck(fanout));
    if (!onEventStoreDb && database.kind === 'postgres') checks.push(horizonCheck(fanout));
    this.checks = checks.map(sharedWhileRunning);
  }

  async close(): Promise<void> {
    await this.redis?.close();
  }
}

/**
 * /health is public: a flood of calls must not become a flood of probes (each a connection to a
 * broker, a Redis round trip, a turn at the topic admin the relay also waits for). Calls that
 * arrive while a check runs share its answer.
 */
export function sharedWhileRunning(check: DependencyCheck): DependencyCheck {
  let running: Promise<DependencyReport> | undefined;
  return {
    name: check.name,
    run: () => (running ??= check.run().finally(() => (running = undefined))),
  };
}

/** A check that is up when `probe` answers within CHECK_TIMEOUT_MS; what it answers joins the details. */
function timed(name: string, details: Record<string, unknown>, probe: () => Promise<void> | Record<string, unknown>): DependencyCheck {
  return {
    name,
    run: async () => {
      try {
        const answer: Record<string, unknown> | void = await within<Record<string, unknown> | void>(CHECK_TIMEOUT_MS, probe);
        return { up: true, details: { ...details, ...answer } };
      } catch (error) {
        return { up: false, details: { ...details, message: oneLineMessage(error) } };
      }
    },
  };
}

/**
 * Kafka: the cluster answers (its brokers, through the shared topic admin), and the relay's
 * lease — HELD (this instance publishes), STANDBY (another one does) or OFF (this instance runs
 * no relay, PROOFLINE_PROJECTIONS=off or the CLI). The lease is information, not readiness:
 * exactly one instance holds it.
 */
function kafkaCheck(fanout: Fanout): DependencyCheck {
  return {
    name: 'kafka',
    run: async () => {
      const relay = { lease: !fanout.started || !fanout.relay ? 'OFF' : fanout.relay.active ? 'HELD' : 'STANDBY', lastError: fanout.relay?.lastError ?? null };
      try {
        const cluster = await within(CHECK_TIMEOUT_MS, () => fanout.topics!.probe());
        return { up: true, details: { brokers: cluster.brokers, relay } };
      } catch (error) {
        return { up: false, details: { message: oneLineMessage(error), relay } };
      }
    },
  };
}

/**
 * The read horizon: how long the oldest transaction holding an xid (any database of the cluster,
 * or a prepared transaction) has held back every global reader. Information, not readiness: the
 * instance still takes writes, and taking every instance out of a load balancer for a transaction
 * none of them holds helps nobody. `degraded` says it is older than PROOFLINE_HORIZON_DEGRADED_SECONDS.
 * Down only when it cannot be read.
 */
function horizonCheck(fanout: Fanout): DependencyCheck {
  return {
    name: 'eventHorizon',
    run: async () => {
      try {
        const horizon = await within(CHECK_TIMEOUT_MS, async () => (await fanout.horizon())!);
        if (horizon.error !== undefined) return { up: false, details: { message: horizon.error } };
        return { up: true, details: { ageSeconds: horizon.ageSeconds, degraded: horizon.degraded, thresholdSeconds: horizon.thresholdSeconds, oldest: horizon.oldest } };
      } catch (error) {
        return { up: false, details: { message: oneLineMessage(error) } };
      }
    },
  };
}

/** A Redis connection of the check's own (the auth stores keep theirs to themselves), opened on first use and again after a failed open. */
class RedisProbe {
  private client?: Promise<Redis>;

  constructor(private readonly url: string) {}

  async ping(): Promise<void> {
    const opening = (this.client ??= openRedis(this.url));
    let redis: Redis;
    try {
      redis = await opening;
    } catch (error) {
      if (this.client === opening) this.client = undefined;
      throw error;
    }
    await redis.ping().catch((error: unknown) => {
      throw unavailable('ping', error);
    });
  }

  async close(): Promise<void> {
    const opening = this.client;
    this.client = undefined;
    await opening?.then(closeRedis, () => undefined);
  }
}

function within<T>(ms: number, work: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve().then(work), late]).finally(() => clearTimeout(timer));
}
