import { sharedWhileRunning, type DependencyReport } from '../../../src/observability/readiness';

describe('a flood of /health calls is not a flood of probes', () => {
  it('100 concurrent calls share one probe; a call after it finished probes again', async () => {
    let probes = 0;
    let release: (report: DependencyReport) => void = () => undefined;
    const check = sharedWhileRunning({
      name: 'kafka',
      run: () => {
        probes += 1;
        return new Promise<DependencyReport>((resolve) => (release = resolve));
      },
    });
    const answers = Array.from({ length: 100 }, () => check.run());
    release({ up: false, details: { message: 'down' } });
    expect(new Set(await Promise.all(answers)).size).toBe(1);
    expect(probes).toBe(1);

    const next = check.run();
    release({ up: true, details: {} });
    expect(await next).toEqual({ up: true, details: {} });
    expect(probes).toBe(2);
  });
});
