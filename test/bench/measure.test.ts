import { describe, expect, test } from '@jest/globals';
import { auditRequestKey, countAuditRequests, lastWrites } from '../../bench/audit.js';
import { readinessBySnapshot, type JournalCall } from '../../bench/readiness.js';
import { metricValue, slope, trend } from '../../bench/stats.js';

// The pure parts of the benchmarks' measurements: what they read from a metrics page, an audit log
// and a driver's call journal, and how they summarise a series.

describe('metricValue', () => {
  const page = [
    '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    '# TYPE nodejs_heap_size_used_bytes gauge',
    'nodejs_heap_size_used_bytes_total 1',
    'nodejs_heap_size_used_bytes{space="old"} 2',
    'nodejs_heap_size_used_bytes 15728640',
    'go_memstats_heap_alloc_bytes 1.2345e+07',
    'stamped 7 1700000000000',
  ].join('\n');

  test('reads the unlabelled sample of exactly that name, in plain or exponent notation, with or without a timestamp', () => {
    expect(metricValue(page, 'nodejs_heap_size_used_bytes')).toBe(15728640);
    expect(metricValue(page, 'go_memstats_heap_alloc_bytes')).toBe(12345000);
    expect(metricValue(page, 'stamped')).toBe(7);
    expect(metricValue(page, 'nodejs_heap')).toBeUndefined();
    expect(metricValue(page, 'absent')).toBeUndefined();
  });
});

describe('trend', () => {
  test('slope is the least-squares slope; undefined without two distinct x', () => {
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }])).toBeCloseTo(2);
    expect(slope([{ x: 1, y: 1 }])).toBeNaN();
    expect(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])).toBeNaN();
  });

  test('compares the medians of the first and the last window and gives the slope after the first, per hour', () => {
    // One sample a minute for an hour, flat at 100 with an outlier, then rising by 1 per minute in the last 10.
    const samples = Array.from({ length: 61 }, (_, i) => ({ atMs: i * 60_000, value: i === 2 ? 500 : i > 50 ? 100 + (i - 50) : 100 }));
    const t = trend(samples, 5 * 60_000);
    expect(t.first).toBe(100);
    expect(t.last).toBe(107.5); // minutes 55–60: 105…110
    expect(t.change).toBeCloseTo(0.075);
    expect(t.slopePerHour).toBeGreaterThan(0);
    const flat = trend(samples.map((s) => ({ atMs: s.atMs, value: 100 })), 5 * 60_000);
    expect(flat).toEqual({ first: 100, last: 100, change: 0, slopePerHour: 0 });
  });
});

describe('audit log counts', () => {
  const user = 'system:serviceaccount:default:csi-snapshotter';
  const event = (stage: string, verb: string, resource: string, code: number, extra: Record<string, unknown> = {}, username = user): string =>
    JSON.stringify({ kind: 'Event', stage, verb, user: { username }, objectRef: { resource, ...extra }, responseStatus: { code } });

  test('one request per event: a completed request, or a watch when it starts; failures keyed by code; other users left out', () => {
    const text = [
      event('ResponseComplete', 'patch', 'volumesnapshotcontents', 200),
      event('ResponseComplete', 'patch', 'volumesnapshotcontents', 200, { subresource: 'status' }),
      event('ResponseComplete', 'patch', 'volumesnapshotcontents', 409),
      event('ResponseStarted', 'watch', 'volumesnapshotcontents', 200),
      event('ResponseComplete', 'watch', 'volumesnapshotcontents', 200),
      event('ResponseStarted', 'get', 'volumesnapshotcontents', 200),
      event('ResponseComplete', 'get', 'volumesnapshotcontents', 200, {}, `${user}-upstream`),
      '{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"' + user, // a line still being written
    ].join('\n');
    expect(countAuditRequests(text, user)).toEqual({
      'patch volumesnapshotcontents': 1,
      'patch volumesnapshotcontents/status': 1,
      'patch volumesnapshotcontents -> 409': 1,
      'watch volumesnapshotcontents': 1,
    });
    expect(auditRequestKey({ stage: 'ResponseStarted', verb: 'list', objectRef: { resource: 'x' } })).toBeUndefined();
  });

  test("each object's last successful write by that user, of a subresource or of the object, by the server's clock", () => {
    const write = (name: string, at: string, code = 200, verb = 'patch', subresource = 'status', username = user): string =>
      JSON.stringify({ stage: 'ResponseComplete', verb, user: { username }, objectRef: { resource: 'volumesnapshotcontents', subresource, name }, responseStatus: { code }, stageTimestamp: at });
    const text = [
      write('a', '2026-12-07T17:15:22.100000Z'),
      write('a', '2026-12-07T17:15:23.250731Z', 200, 'update'),
      write('a', '2026-12-07T17:15:24.000000Z', 409),
      write('b', '2026-12-07T17:15:25.000000Z', 200, 'patch', ''),
      write('c', '2026-12-07T17:15:26.000000Z', 200, 'patch', 'status', `${user}-upstream`),
      write('d', '2026-12-07T17:15:27.500000Z'),
    ].join('\n');
    expect([...lastWrites(text, user, 'volumesnapshotcontents', 'status')]).toEqual([
      ['a', Date.parse('2026-12-07T17:15:23.250Z')],
      ['d', Date.parse('2026-12-07T17:15:27.500Z')],
    ]);
    expect([...lastWrites(text, user, 'volumesnapshotcontents', '')]).toEqual([['b', Date.parse('2026-12-07T17:15:25.000Z')]]);
  });
});

describe('readinessBySnapshot', () => {
  const at = (ms: number): string => new Date(ms).toISOString();
  const snapshots = [
    { id: 'snap-a', name: 'snapshot-a', sourceVolumeId: 'vol-a', readyAtMs: 10_000 },
    { id: 'snap-b', name: 'snapshot-b', sourceVolumeId: 'vol-b', readyAtMs: 20_000 },
  ];
  const create = (name: string, volume: string, startMs: number, durationMs = 5, code = 0): JournalCall => ({ method: 'CreateSnapshot', request: { name, source_volume_id: volume }, startedAt: at(startMs), durationMs, code });
  const list = (request: Record<string, unknown>, startMs: number): JournalCall => ({ method: 'ListSnapshots', request, startedAt: at(startMs), durationMs: 1, code: 0 });

  test('counts the calls about each snapshot and finds the first answered after it became ready', () => {
    const calls = [
      create('snapshot-a', 'vol-a', 1_000),
      list({ snapshot_id: 'snap-a' }, 5_000),
      create('snapshot-a', 'vol-a', 9_998, 10), // started before, ended after: ready at its end
      list({ snapshot_id: 'snap-a' }, 15_000),
      create('snapshot-b', 'vol-b', 1_000),
      create('snapshot-b', 'vol-b', 3_000, 5, 14), // failed: not counted
      create('snapshot-b', 'vol-x', 4_000), // another source under that name: not about snap-b
      list({}, 12_000), // the whole list: about both
      list({ source_volume_id: 'vol-b' }, 25_000),
      { method: 'DeleteSnapshot', request: { snapshot_id: 'snap-b' }, startedAt: at(30_000), durationMs: 1, code: 0 },
    ];
    const r = readinessBySnapshot(calls, snapshots);
    expect(r.get('snap-a')).toEqual({ calls: 5, pollsNotReady: 1, firstReadyAnswerMs: 10_008 });
    expect(r.get('snap-b')).toEqual({ calls: 3, pollsNotReady: 1, firstReadyAnswerMs: 25_000 });
  });

  test('a snapshot never asked about after it became ready has no first ready answer', () => {
    expect(readinessBySnapshot([create('snapshot-a', 'vol-a', 1_000)], snapshots).get('snap-a')).toEqual({ calls: 1, pollsNotReady: 0, firstReadyAnswerMs: undefined });
  });
});
