import { describe, expect, test } from '@jest/globals';
import { buildConfig, ExitError, invalidDurations } from '../../src/config/config.js';
import { FlagError, FLAGS, HelpRequested, parseFlags, usage } from '../../src/config/flags.js';
import { formatGoDuration, parseGoBool, parseGoDuration, parseGoInt } from '../../src/config/go-values.js';

describe('Go value syntax', () => {
  test.each([
    ['300s', 300_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['-1s', -1000],
    ['0', 0],
    ['1m50s', 110_000],
    ['100ms', 100],
    ['2us', 0.002],
    ['2µs', 0.002],
    ['1h2m3s4ms', 3_723_004],
  ])('duration %s = %d ms', (text, ms) => expect(parseGoDuration(text)).toBeCloseTo(ms, 9));

  test.each(['10', '1x', 's', '', '1.s5'])('duration %j is rejected', (text) => expect(() => parseGoDuration(text)).toThrow());

  test.each([
    [15 * 60_000, '15m0s'],
    [60_000, '1m0s'],
    [1000, '1s'],
    [0, '0s'],
    [1500, '1.5s'],
    [100, '100ms'],
    [3_723_004, '1h2m3.004s'],
  ])('duration %d ms prints as %s', (ms, text) => expect(formatGoDuration(ms)).toBe(text));

  test.each([
    ['10', 10],
    ['0x1f', 31],
    ['0o17', 15],
    ['017', 15],
    ['0b101', 5],
    ['-1', -1],
    ['0x_1f', 31],
  ])('int %s = %d', (text, n) => expect(parseGoInt(text)).toBe(n));

  test.each(['1_000', '08', 'ten', '1.5', ''])('int %j is rejected', (text) => expect(() => parseGoInt(text)).toThrow());

  test('bool accepts exactly Go spellings', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(f)).toBe(false);
    expect(() => parseGoBool('yes')).toThrow();
  });
});

describe('flag parsing', () => {
  test('defaults are the Go sidecar defaults', () => {
    const config = buildConfig(parseFlags([]));
    expect(config).toMatchObject({
      resyncPeriodMs: 15 * 60_000,
      snapshotNamePrefix: 'snapshot',
      snapshotNameUuidLength: -1,
      workerThreads: 10,
      timeoutMs: 60_000,
      extraCreateMetadata: false,
      retryIntervalStartMs: 1000,
      retryIntervalMaxMs: 300_000,
      groupSnapshotNamePrefix: 'groupsnapshot',
      csiAddress: '/run/csi/socket',
      leaderElectionLeaseDurationMs: 15_000,
      leaderElectionRenewDeadlineMs: 10_000,
      leaderElectionRetryPeriodMs: 5000,
      kubeApiQps: 5,
      kubeApiBurst: 10,
      metricsPath: '/metrics',
      verbosity: 0,
      logFormat: 'text',
      featureGates: { CSIVolumeGroupSnapshot: true, ReleaseLeaderElectionOnExit: false },
    });
  });

  test('one or two dashes, =value or a separate value, booleans only with =', () => {
    const parsed = parseFlags(['-timeout=2m', '--worker-threads', '7', '-leader-election', '--extra-create-metadata=false', 'rest', '--v=9']);
    expect(parsed.values['timeout']).toBe(120_000);
    expect(parsed.values['worker-threads']).toBe(7);
    expect(parsed.values['leader-election']).toBe(true);
    expect(parsed.values['extra-create-metadata']).toBe(false);
    // Parsing stops at the first non-flag argument, as Go's flag package does.
    expect(parsed.positional).toEqual(['rest', '--v=9']);
    expect(parsed.values['v']).toBe(0);
  });

  test('a boolean followed by "false" takes true and stops there (Go semantics)', () => {
    const parsed = parseFlags(['--leader-election', 'false', '--v=3']);
    expect(parsed.values['leader-election']).toBe(true);
    expect(parsed.positional).toEqual(['false', '--v=3']);
  });

  test('the last value of a scalar wins; feature gates and labels accumulate', () => {
    const parsed = parseFlags([
      '--timeout=1s', '--timeout=2s',
      '--feature-gates=CSIVolumeGroupSnapshot=false', '--feature-gates=ReleaseLeaderElectionOnExit=true',
      '--leader-election-labels=a:1,b:2', '--leader-election-labels=c:3',
    ]);
    const config = buildConfig(parsed);
    expect(config.timeoutMs).toBe(2000);
    expect(config.featureGates).toMatchObject({ CSIVolumeGroupSnapshot: false, ReleaseLeaderElectionOnExit: true });
    expect(config.leaderElectionLabels).toEqual({ a: '1', b: '2', c: '3' });
  });

  test('errors name the flag, as Go does', () => {
    expect(() => parseFlags(['--logtostderr-typo'])).toThrow(new FlagError('flag provided but not defined: -logtostderr-typo'));
    expect(() => parseFlags(['--timeout'])).toThrow(new FlagError('flag needs an argument: -timeout'));
    expect(() => parseFlags(['--timeout=10'])).toThrow(/invalid value "10" for flag -timeout: missing unit/);
    expect(() => parseFlags(['--leader-election-labels=novalue'])).toThrow(/malformed item in list of labels: novalue/);
    expect(() => parseFlags(['---x'])).toThrow(/bad flag syntax/);
    expect(() => parseFlags(['-h'])).toThrow(HelpRequested);
    expect(() => parseFlags(['--help'])).toThrow(HelpRequested);
  });

  test('unknown feature gates exit 255 (Z-14); bad logging configuration exits 1', () => {
    expect(() => buildConfig(parseFlags(['--feature-gates=Foo=true']))).toThrow(new ExitError(255, 'Error while parsing feature gates: unrecognized feature gate: Foo'));
    for (const args of [['--logging-format=xml'], ['--log-json-split-stream'], ['--log-flush-frequency=0s'], ['--logging-format=json', '--vmodule=a=2']]) {
      let error: unknown;
      try {
        buildConfig(parseFlags(args));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ExitError);
      expect((error as ExitError).exitCode).toBe(1);
      expect((error as ExitError).message).toMatch(/^LoggingConfiguration is invalid: /);
    }
  });

  test('retired flags are accepted with a warning, and the old group flag still switches the feature', () => {
    const parsed = parseFlags(['--enable-volume-group-snapshots=false', '--logtostderr', '--add_dir_header']);
    expect(parsed.warnings).toHaveLength(3);
    expect(parsed.warnings[0]).toMatch(/--feature-gates=CSIVolumeGroupSnapshot/);
    expect(buildConfig(parsed).featureGates.CSIVolumeGroupSnapshot).toBe(false);
    // An explicit gate wins over the retired flag.
    const both = parseFlags(['--enable-volume-group-snapshots=false', '--feature-gates=CSIVolumeGroupSnapshot=true']);
    expect(buildConfig(both).featureGates.CSIVolumeGroupSnapshot).toBe(true);
  });

  // Argument lists as popular CSI driver charts pass them (after Kubernetes expands $(VAR)).
  test.each([
    ['--csi-address=/var/lib/csi/sockets/pluginproxy/csi.sock --leader-election=true --v=2 --extra-create-metadata --kube-api-qps=20 --kube-api-burst=100 --worker-threads=100 --retry-interval-max=30m --http-endpoint=0.0.0.0:3306'],
    ['-csi-address=/csi/csi.sock -leader-election --leader-election-namespace=kube-system -v=2 --timeout=1200s --extra-create-metadata=true --retry-interval-max=30m --worker-threads=250 --kube-api-qps=100 --kube-api-burst=200'],
    ['--csi-address=unix:///csi/csi-rbdplugin.sock --v=1 --timeout=60s --leader-election=true --extra-create-metadata=true --enable-volume-group-snapshots=false'],
    ['--v=5 --leader-election --leader-election-namespace=democratic-csi --timeout=90s --worker-threads=10 --csi-address=/csi-data/csi.sock'],
    ['--v=2 --csi-address=/csi/csi.sock --timeout=1m50s --leader-election --leader-election-namespace=longhorn-system --kube-api-qps=50 --kube-api-burst=100 --http-endpoint=:9504 --feature-gates=CSIVolumeGroupSnapshot=true'],
  ])('chart arguments parse: %s', (line) => {
    const parsed = parseFlags(line.split(' '));
    expect(parsed.positional).toEqual([]);
    const config = buildConfig(parsed);
    expect(config.csiAddress).toMatch(/csi/);
    expect(config.leaderElection).toBe(true);
    // What charts pass passes the start-up duration checks too.
    expect(invalidDurations(config)).toBeUndefined();
  });

  test('usage lists every flag with its default', () => {
    const text = usage('csi-snapshotter');
    for (const flag of FLAGS) expect(text).toContain(`  -${flag.name}`);
    expect(text).toContain('(default 15m0s)');
    expect(text).toContain('(default "/run/csi/socket")');
  });
});

describe('durations that cannot work', () => {
  const check = (args: string[]): string | undefined => invalidDurations(buildConfig(parseFlags(args)));

  test('the defaults, a resync period of 0 (off) and sub-second values are accepted', () => {
    expect(check([])).toBeUndefined();
    expect(check(['--resync-period=0', '--timeout=500ms', '--retry-interval-start=10ms', '--retry-interval-max=1ms'])).toBeUndefined();
  });

  test.each([
    ['--timeout=0s', '--timeout=0s is invalid: it must be positive (the deadline of every CSI call), for example --timeout=1m'],
    ['--timeout=-1m30s', '--timeout=-1m30s is invalid: it must be positive'],
    ['--retry-interval-start=0', '--retry-interval-start=0s is invalid: it must be positive (the first retry delay after a failure)'],
    ['--retry-interval-max=-1s', '--retry-interval-max=-1s is invalid: it must be positive (the longest retry delay)'],
    ['--resync-period=-1ms', '--resync-period=-1ms is invalid: it must not be negative (how often every object is looked at again; 0 turns that off), for example --resync-period=15m'],
  ])('%s is refused, saying what the flag is for', (arg, message) => {
    expect(check([arg])).toContain(message);
  });

  test('every refused duration is named, in one line', () => {
    const line = check(['--timeout=0s', '--resync-period=-5m', '--retry-interval-max=0s']) ?? '';
    expect(line.split('\n')).toHaveLength(1);
    expect(line.match(/is invalid/g)).toHaveLength(3);
    expect(line).toMatch(/^--resync-period=-5m0s .*; --timeout=0s .*; --retry-interval-max=0s /);
  });
});
