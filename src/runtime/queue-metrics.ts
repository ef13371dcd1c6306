/**
 * What a work queue reports about itself. The queue calls these as things happen; the metrics
 * module implements them with the workqueue_* Prometheus series of client-go's work queues.
 */
export interface QueueMetricsSink {
  /** An item was added (also re-adds after backoff). */
  added(queue: string): void;
  /** Items waiting now. */
  depth(queue: string, depth: number): void;
  /** Seconds an item waited between being queued and a worker taking it. */
  queueLatency(queue: string, seconds: number): void;
  /** Seconds a worker spent on one item. */
  workDuration(queue: string, seconds: number): void;
  /** An item was re-added with backoff after a failure. */
  retried(queue: string): void;
}

/** Read by the metrics module at scrape time. */
export interface QueueProgress {
  readonly name: string;
  /** Seconds of work in progress that has not finished yet, summed over workers. */
  unfinishedWorkSeconds(): number;
  /** Seconds the longest-running worker has been on its current item. */
  longestRunningProcessorSeconds(): number;
}
