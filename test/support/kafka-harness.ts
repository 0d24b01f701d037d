import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Knex } from 'knex';
import { newEventId, type JsonObject, type UnsignedEnvelope } from '../../contracts';
import { tablesOf } from '../../projections/runtime/tables';
import { tenantActivityProjector } from '../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../projections/workspace-directory.projector';
import type { Infrastructure } from '../../src/app/infrastructure';
import { streamIdFor } from '../../src/commands/stream-id';
import type { GlobalPosition } from '../../src/eventstore/global-position';
import { HEADERS } from '../../src/fanout/topics';

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const SCRIPT = join(ROOT, 'scripts/kafka/kafka.sh');

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A broker of one test file's own (scripts/kafka/kafka.sh under a temporary KAFKA_HOME), so the
 * file can stop and start it without touching the shared broker. The jars are copied from the
 * shared broker's home when it has them (else kafka.sh fetches them from the Maven cache).
 */
export class PrivateBroker {
  private constructor(
    readonly home: string,
    readonly port: number,
    private readonly controllerPort: number,
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async create(): Promise<PrivateBroker> {
    const home = mkdtempSync(join(tmpdir(), 'proofline-kafka-'));
    const shared = join(ROOT, '.kafka/lib');
    const pom = join(ROOT, 'scripts/kafka/pom.xml');
    if (existsSync(join(shared, '.pom.sha256')) && readFileSync(join(shared, '.pom.sha256'), 'utf8').trim() === sha256(readFileSync(pom))) {
      cpSync(shared, join(home, 'lib'), { recursive: true });
    }
    return new PrivateBroker(home, await freePort(), await freePort());
  }

  async start(): Promise<void> {
    await this.script('start');
  }

  async stop(): Promise<void> {
    await this.script('stop');
  }

  /** Stops the broker (whatever state it is in) and deletes its home. Never throws. */
  async destroy(): Promise<void> {
    await this.script('stop').catch(() => undefined);
    rmSync(this.home, { recursive: true, force: true });
  }

  private async script(command: 'start' | 'stop'): Promise<void> {
    const env = { ...process.env, KAFKA_HOME: this.home, KAFKA_PORT: String(this.port), KAFKA_CONTROLLER_PORT: String(this.controllerPort), KAFKA_STOP_TIMEOUT: '20' };
    await run('bash', [SCRIPT, command], { env, timeout: 150_000 });
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A workspace stream written without the command pipeline: registration first, then renames. */
export interface CraftedWorkspace {
  readonly tenantId: string;
  readonly streamId: string;
  /** The stream's version (-1: not yet registered). */
  version: number;
}

export function craftedWorkspace(): CraftedWorkspace {
  const tenantId = randomUUID();
  return { tenantId, streamId: streamIdFor('workspace', tenantId), version: -1 };
}

/** Appends `count` signed events to the workspace's stream in one batch (the registration when it has none yet). */
export async function appendCrafted(infrastructure: Infrastructure, workspace: CraftedWorkspace, count: number): Promise<void> {
  const now = new Date().toISOString();
  const unsigned: UnsignedEnvelope[] = [];
  for (let i = 0; i < count; i += 1) {
    const version = workspace.version + 1 + i;
    const data: JsonObject =
      version === 0
        ? { workspaceId: workspace.tenantId, name: 'Name 0', planTier: 'FREE', owner: { userId: randomUUID(), email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } }
        : { name: `Name ${version}`, previousName: `Name ${version - 1}` };
    const commandId = randomUUID();
    unsigned.push({
      id: newEventId(),
      type: version === 0 ? 'workspaces.registered' : 'workspaces.renamed',
      schemaVersion: version === 0 ? 2 : 1,
      streamId: workspace.streamId,
      tenantId: workspace.tenantId,
      occurredAt: now,
      actor: { id: 'kafka-harness', role: 'ADMIN' },
      data,
      metadata: { correlationId: commandId, causationId: commandId, commandId },
    });
  }
  const result = await infrastructure.store.append(workspace.streamId, infrastructure.signer.sealBatch(unsigned), workspace.version < 0 ? 'no-stream' : workspace.version);
  workspace.version = result.nextExpectedVersion;
}

/** The last position in the store (what a caught-up relay's checkpoint must be). */
export async function storeHead(knex: Knex): Promise<GlobalPosition> {
  const row = await knex('events').orderBy([{ column: 'transaction_id', order: 'desc' }, { column: 'global_position', order: 'desc' }]).first('transaction_id', 'global_position');
  return { commit: BigInt(row.transaction_id), prepare: BigInt(row.global_position) };
}

export interface ReadModelCheck {
  /** Per tenant, the events tenant_activity handles as the store has them. */
  readonly expected: Record<string, number>;
  /** Per tenant, SUM(events) of tenant_activity's rows. */
  readonly actual: Record<string, number>;
  /** Workspaces whose workspace_directory row is missing or not at the stream's version. */
  readonly staleWorkspaces: string[];
  readonly deadLetters: number;
}

/** The exactly-once oracle: the read models against the store, in numbers a failed assertion shows. */
export async function checkReadModels(knex: Knex): Promise<ReadModelCheck> {
  const expectedRows: Array<{ tenant_id: string; n: number }> = await knex('events')
    .whereIn('event_type', [...tenantActivityProjector.handles])
    .groupBy('tenant_id')
    .select('tenant_id', knex.raw('count(*)::int AS n'));
  const activity = tablesOf(tenantActivityProjector, 'live').tables.daily;
  const actualRows: Array<{ tenant_id: string; n: number }> = await knex(activity).groupBy('tenant_id').select('tenant_id', knex.raw('sum(events)::int AS n'));
  const directory = tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces;
  const stale: Array<{ stream_id: string }> = await knex('streams as s')
    .leftJoin(`${directory} as w`, 'w.tenant_id', 's.tenant_id')
    .where('s.stream_id', 'like', 'workspace-%')
    .andWhere((where) => where.whereNull('w.version').orWhereRaw('w.version <> s.version'))
    .select('s.stream_id');
  const [{ n: deadLetters }] = await knex('projection_dead_letters').count({ n: '*' });
  return {
    expected: Object.fromEntries(expectedRows.map((row) => [row.tenant_id, row.n])),
    actual: Object.fromEntries(actualRows.map((row) => [row.tenant_id, row.n])),
    staleWorkspaces: stale.map((row) => row.stream_id),
    deadLetters: Number(deadLetters),
  };
}

export function converged(check: ReadModelCheck): boolean {
  const tenants = new Set([...Object.keys(check.expected), ...Object.keys(check.actual)]);
  return check.staleWorkspaces.length === 0 && [...tenants].every((tenant) => check.expected[tenant] === check.actual[tenant]);
}

/** A plain kafkajs consumer (a group of its own) counting, per event id, the messages on `topics`. */
export class TopicTally {
  readonly counts = new Map<string, number>();
  private constructor(private readonly consumer: Consumer) {}

  static async start(brokers: string, topics: string[]): Promise<TopicTally> {
    const kafka = new Kafka({ clientId: 'tally', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const tally = new TopicTally(kafka.consumer({ groupId: `tally-${randomUUID()}`, maxWaitTimeInMs: 50 }));
    await tally.consumer.connect();
    await tally.consumer.subscribe({ topics, fromBeginning: true });
    await tally.consumer.run({
      eachMessage: async ({ message }) => {
        const id = String(message.headers?.[HEADERS.eventId]);
        tally.counts.set(id, (tally.counts.get(id) ?? 0) + 1);
      },
    });
    return tally;
  }

  get messages(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  close(): Promise<void> {
    return this.consumer.disconnect().catch(() => undefined);
  }
}

export interface RelayReport {
  readonly relay: number;
  readonly active: boolean;
  readonly published: number;
  readonly lastError: string | null;
}

/** test/support/kafka-relay-process.ts as a child process: its latest report, and SIGKILL. */
export class RelayProcess {
  private static readonly running = new Set<RelayProcess>();
  latest?: RelayReport;
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    RelayProcess.running.add(this);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('{"relay":')) this.latest = JSON.parse(line) as RelayReport;
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => RelayProcess.running.delete(this));
  }

  /** Starts a relay over the test app's database schema and Kafka settings, and waits for its first report. */
  static async spawn(infrastructure: Infrastructure): Promise<RelayProcess> {
    const { config } = infrastructure;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: '--no-warnings',
      PROOFLINE_PROFILE: 'services',
      PROOFLINE_AUTH_STORE: 'memory',
      PROOFLINE_SIGNING_KEY_TYPE: 'ed25519',
      PROOFLINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'proofline-relay-')),
      LOG_LEVEL: 'silent',
      DATABASE_URL: config.DATABASE_URL!,
      DATABASE_SCHEMA: config.DATABASE_SCHEMA!,
      DATABASE_POOL_SIZE: '4',
      KAFKA_BROKERS: config.KAFKA_BROKERS!,
      PROOFLINE_KAFKA_TOPIC_PREFIX: config.PROOFLINE_KAFKA_TOPIC_PREFIX,
    };
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'kafka-relay-process.ts')], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const relay = new RelayProcess(child);
    void relay.exited.then(() => rmSync(env.PROOFLINE_DATA_DIR, { recursive: true, force: true }));
    await relay.until(() => relay.latest !== undefined, 90_000);
    return relay;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Polls until `condition` holds; throws (with the child's stderr) when it does not in time or the child died. */
  async until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`relay process ${this.child.pid} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`relay process ${this.child.pid}: condition not met in ${timeoutMs} ms; last report ${JSON.stringify(this.latest)}; stderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A crash: no shutdown hook runs, the database session (and its lease) dies with the process. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGKILLs every relay process still running (afterAll, whatever happened). */
  static async killAll(): Promise<void> {
    await Promise.all([...RelayProcess.running].map((relay) => relay.kill()));
  }
}
