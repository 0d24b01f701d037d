/**
 * Layering, checked in CI (`npm run lint`): domain code stays pure, contracts stand alone.
 * A domain folder's events.ts, state.ts and decide*.ts may import contracts/ and the error
 * types only — no Nest, no knex, no database, nothing from projections/.
 */
const DOMAIN_FILES = '^src/[^/]+/(events|state|decide|decide-[a-z-]+)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'decide/evolve must not reach frameworks, I/O or adapters',
      severity: 'error',
      from: { path: DOMAIN_FILES },
      to: { path: '(^node_modules/(@nestjs|knex|pg|@electric-sql|kafkajs|ioredis|@anthropic-ai|fastify))|^src/(eventstore|database|app|http|signing|observability|cli)/|^projections/' },
    },
    {
      name: 'domain-imports-only-contracts-and-errors',
      severity: 'error',
      from: { path: DOMAIN_FILES },
      to: { path: '^src/', pathNot: ['^src/errors/', '^src/commands/decider\\.ts$', '^src/[^/]+/(events|state|decide|decide-[a-z-]+)\\.ts$'] },
    },
    {
      name: 'contracts-stand-alone',
      comment: 'contracts/ is the published shape of events; it depends on nothing of ours',
      severity: 'error',
      from: { path: '^contracts/' },
      to: { path: '^(src|projections|migrations)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
