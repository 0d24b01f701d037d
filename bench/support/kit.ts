/** Everything a benchmark needs: timing and percentiles, CPU accounting, closed-loop load, reports. */
export * from './stats';
export * from './cpu';
export * from './load';
export * from './report';
