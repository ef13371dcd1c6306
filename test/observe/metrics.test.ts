import { describe, expect, test } from '@jest/globals';
import { CONTENT_KINDS, createMetrics, EVENT_LOOP_SAMPLE_MS, goFloat } from '../../src/observe/metrics.js';
import type { QueueProgress } from '../../src/runtime/queue-metrics.js';

function progress(name: string, unfinished = 0, longest = 0): QueueProgress {
  return { name, unfinishedWorkSeconds: () => unfinished, longestRunningProcessorSeconds: () => longest };
}

/** The value of one sample line, e.g. sample(text, 'workqueue_depth{name="q"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics text', () => {
  test('every series is present at start-up with zero values', async () => {
    const metrics = createMetrics();
    metrics.registerQueue(progress('csi-snapshotter-content'));
    metrics.registerQueue(progress('csi-snapshotter-groupsnapshotcontent'));
    metrics.leaderElection();
    const text = await metrics.metricsText();

    expect(text).toContain(
      '# HELP csi_sidecar_operations_seconds [ALPHA] Container Storage Interface operation duration with gRPC error code status total\n# TYPE csi_sidecar_operations_seconds histogram',
    );
    expect(text).toContain('# HELP process_start_time_seconds [ALPHA] Start time of the process since unix epoch in seconds.\n# TYPE process_start_time_seconds gauge');
    expect(text.match(/^# HELP process_start_time_seconds /gm)).toHaveLength(1);
    expect(sample(text, 'process_start_time_seconds')).toBeCloseTo(performance.timeOrigin / 1000, 0);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);

    for (const name of ['csi-snapshotter-content', 'csi-snapshotter-groupsnapshotcontent']) {
      for (const series of ['workqueue_depth', 'workqueue_adds_total', 'workqueue_retries_total', 'workqueue_unfinished_work_seconds', 'workqueue_longest_running_processor_seconds']) {
        expect(sample(text, `${series}{name="${name}"}`)).toBe(0);
      }
      expect(sample(text, `workqueue_queue_duration_seconds_count{name="${name}"}`)).toBe(0);
      expect(sample(text, `workqueue_work_duration_seconds_bucket{le="1e-08",name="${name}"}`)).toBe(0);
    }
    expect(text).toContain('# HELP workqueue_depth [ALPHA] Current depth of workqueue\n');
    expect(text).toContain('# HELP workqueue_adds_total [ALPHA] Total number of adds handled by workqueue\n');
    expect(text).toContain('# HELP workqueue_retries_total [ALPHA] Total number of retries handled by workqueue\n');
    expect(text).toContain('# HELP workqueue_queue_duration_seconds [ALPHA] How long in seconds an item stays in workqueue before being requested.\n');
    expect(text).toContain('# HELP workqueue_work_duration_seconds [ALPHA] How long in seconds processing an item from workqueue takes.\n');

    expect(sample(text, 'leader_election_master_status{name=""}')).toBe(0);
    expect(sample(text, 'leader_election_slowpath_total{name=""}')).toBe(0);

    for (const kind of CONTENT_KINDS) {
      for (const gauge of ['csi_snapshotter_contents_pending', 'csi_snapshotter_contents_in_error', 'csi_snapshotter_contents_being_deleted']) {
        expect(sample(text, `${gauge}{driver_name="unknown-driver",kind="${kind}"}`)).toBe(0);
      }
    }
    expect(sample(text, 'registered_metrics_total{stability_level="ALPHA",deprecated_version=""}')).toBeGreaterThan(5);
  });

  test('CSI calls are labelled with driver, full method and Go status code name, in the Go buckets', async () => {
    const metrics = createMetrics();
    metrics.observeCsiCall({ method: '/csi.v1.Identity/GetPluginInfo', durationSeconds: 0.01, code: 0 });
    metrics.setDriverName('hostpath.csi.k8s.io');
    metrics.observeCsiCall({ method: '/csi.v1.Controller/CreateSnapshot', durationSeconds: 3, code: 4 });
    metrics.observeCsiCall({ method: '/csi.v1.Controller/CreateSnapshot', durationSeconds: 0.2, code: undefined });
    const text = await metrics.metricsText();

    expect(sample(text, 'csi_sidecar_operations_seconds_count{driver_name="unknown-driver",method_name="/csi.v1.Identity/GetPluginInfo",grpc_status_code="OK"}')).toBe(1);
    const deadline = 'driver_name="hostpath.csi.k8s.io",method_name="/csi.v1.Controller/CreateSnapshot",grpc_status_code="DeadlineExceeded"';
    expect(sample(text, `csi_sidecar_operations_seconds_bucket{le="2.5",${deadline}}`)).toBe(0);
    expect(sample(text, `csi_sidecar_operations_seconds_bucket{le="5",${deadline}}`)).toBe(1);
    expect(sample(text, `csi_sidecar_operations_seconds_sum{${deadline}}`)).toBe(3);
    expect(sample(text, 'csi_sidecar_operations_seconds_count{driver_name="hostpath.csi.k8s.io",method_name="/csi.v1.Controller/CreateSnapshot",grpc_status_code="unknown-non-grpc"}')).toBe(1);

    const bounds = [...text.matchAll(/csi_sidecar_operations_seconds_bucket\{le="([^"]+)",driver_name="unknown-driver"/g)].map((m) => m[1]);
    expect(bounds).toEqual(['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '15', '25', '50', '120', '300', '600', '+Inf']);
  });

  test('queue sink, in-progress gauges, leader status and content gauges reflect what was reported', async () => {
    const metrics = createMetrics();
    metrics.registerQueue(progress('q', 1.5, 0.75));
    metrics.queueSink.added('q');
    metrics.queueSink.added('q');
    metrics.queueSink.depth('q', 2);
    metrics.queueSink.queueLatency('q', 0.002);
    metrics.queueSink.workDuration('q', 0.5);
    metrics.queueSink.retried('q');
    const leader = metrics.leaderElection();
    leader.leading(true);
    leader.slowpath();
    metrics.setContentGauges('VolumeSnapshotContent', { pending: 3, inError: 1, beingDeleted: 2 });
    metrics.setDriverName('d.example.com');
    const text = await metrics.metricsText();

    expect(sample(text, 'workqueue_adds_total{name="q"}')).toBe(2);
    expect(sample(text, 'workqueue_depth{name="q"}')).toBe(2);
    expect(sample(text, 'workqueue_retries_total{name="q"}')).toBe(1);
    expect(sample(text, 'workqueue_unfinished_work_seconds{name="q"}')).toBe(1.5);
    expect(sample(text, 'workqueue_longest_running_processor_seconds{name="q"}')).toBe(0.75);
    expect(sample(text, 'workqueue_queue_duration_seconds_bucket{le="0.001",name="q"}')).toBe(0);
    expect(sample(text, 'workqueue_queue_duration_seconds_bucket{le="0.01",name="q"}')).toBe(1);
    expect(sample(text, 'workqueue_work_duration_seconds_bucket{le="1",name="q"}')).toBe(1);
    const bounds = [...text.matchAll(/workqueue_work_duration_seconds_bucket\{le="([^"]+)",name="q"/g)].map((m) => m[1]);
    expect(bounds).toEqual(['1e-08', '1e-07', '1e-06', '1e-05', '0.0001', '0.001', '0.01', '0.1', '1', '10', '+Inf']);
    expect(sample(text, 'leader_election_master_status{name=""}')).toBe(1);
    expect(sample(text, 'leader_election_slowpath_total{name=""}')).toBe(1);
    expect(sample(text, 'csi_snapshotter_contents_pending{driver_name="d.example.com",kind="VolumeSnapshotContent"}')).toBe(3);
    expect(sample(text, 'csi_snapshotter_contents_in_error{driver_name="d.example.com",kind="VolumeSnapshotContent"}')).toBe(1);
    expect(sample(text, 'csi_snapshotter_contents_being_deleted{driver_name="d.example.com",kind="VolumeSnapshotContent"}')).toBe(2);
    expect(sample(text, 'csi_snapshotter_contents_pending{driver_name="d.example.com",kind="VolumeGroupSnapshotContent"}')).toBe(0);
    expect(text).not.toContain('unknown-driver');
  });

  test('the event-loop lag series sample every 100 ms, not every 10 ms (each sample wakes an idle process)', async () => {
    const metrics = createMetrics();
    // prom-client's histogram records the time between two samples: its minimum is the period plus
    // the lag. Wait for the first samples, then read the period back.
    let min = 0;
    const giveUp = Date.now() + 10_000;
    while (min === 0 && Date.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      min = sample(await metrics.metricsText(), 'nodejs_eventloop_lag_min_seconds') ?? 0;
    }
    expect(min).toBeGreaterThanOrEqual((EVENT_LOOP_SAMPLE_MS / 1000) * 0.9);
  });

  test('goFloat spells numbers like Go strconv g formatting', () => {
    expect([1e-8, 1e-5, 0.0001, 0.25, 10, 600, 1e6, 1234567, 0].map(goFloat)).toEqual(['1e-08', '1e-05', '0.0001', '0.25', '10', '600', '1e+06', '1.234567e+06', '0']);
  });
});
