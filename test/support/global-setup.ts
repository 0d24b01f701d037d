import { isReachable, requiredServices, serviceUrl, SERVICES, type ServiceName } from './services';

/** Probes each service once, fails the run if a required one is down, and tells the suites what is up. */
export default async function globalSetup(): Promise<void> {
  const available: ServiceName[] = [];
  for (const service of SERVICES) {
    if (await isReachable(service)) available.push(service);
  }
  process.env.PROOFLINE_TEST_SERVICES = available.join(',');
  const missing = requiredServices().filter((service) => !available.includes(service));
  if (missing.length > 0) {
    const where = missing.map((service) => `${service} at ${serviceUrl(service) || '(no address: set ESDB_CONNECTION_STRING)'}`).join(', ');
    throw new Error(`REQUIRE_SERVICES=${process.env.REQUIRE_SERVICES}: unreachable: ${where}. Start them (README, "Tests") or drop them from REQUIRE_SERVICES.`);
  }
  const skipped = SERVICES.filter((service) => !available.includes(service));
  if (skipped.length > 0) console.log(`\nServices not reachable, their suites are skipped: ${skipped.join(', ')}`);
}
