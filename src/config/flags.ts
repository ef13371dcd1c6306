import { formatGoDuration, parseGoBool, parseGoDuration, parseGoFloat, parseGoInt, parseQuantity } from './go-values.js';

/**
 * Every command-line flag of the sidecar, in one table: the parser, `--help` and the README's flag
 * reference are all generated from it. Names, types and defaults are those of the Go csi-snapshotter
 * (its own flags, the standard sidecar flags and the Kubernetes logging flags), plus flags that older
 * Helm charts still pass and that are accepted with a warning instead of a crash loop.
 */
export type FlagType = 'bool' | 'string' | 'int' | 'float' | 'duration' | 'labels' | 'feature-gates' | 'quantity';

export type FlagGroup = 'sidecar' | 'standard' | 'logging' | 'compatibility';

export interface FlagDefinition {
  name: string;
  type: FlagType;
  /** Default in the parsed representation: durations in ms, labels as a record, gates as a list. */
  default: boolean | string | number | Record<string, string> | string[];
  help: string;
  group: FlagGroup;
  /** For accepted-but-retired flags: the warning printed when one is used. */
  deprecated?: string;
}

export const FLAGS = [
  // The sidecar's own flags.
  { group: 'sidecar', name: 'resync-period', type: 'duration', default: 15 * 60_000, help: 'How often every content object is looked at again even without a change. 0 disables the periodic pass; negative values are refused.' },
  { group: 'sidecar', name: 'snapshot-name-prefix', type: 'string', default: 'snapshot', help: 'Prefix of the snapshot name sent to the driver in CreateSnapshot; the VolumeSnapshot UID follows it. Must not be empty.' },
  { group: 'sidecar', name: 'snapshot-name-uuid-length', type: 'int', default: -1, help: 'Use only this many characters of the VolumeSnapshot UID (dashes removed) in snapshot names; -1 uses the whole UID with dashes. For drivers with short name limits.' },
  { group: 'sidecar', name: 'worker-threads', type: 'int', default: 10, help: 'Number of content objects worked on at once, for single and (separately) group snapshots.' },
  { group: 'sidecar', name: 'timeout', type: 'duration', default: 60_000, help: 'Deadline of each CSI operation (and of the start-up probes and capability checks). Must be positive.' },
  { group: 'sidecar', name: 'extra-create-metadata', type: 'bool', default: false, help: 'Send the VolumeSnapshot (or VolumeGroupSnapshot) name and namespace and the content name to the driver as csi.storage.k8s.io/ parameters of create calls.' },
  { group: 'sidecar', name: 'retry-interval-start', type: 'duration', default: 1000, help: 'First retry delay after a failed operation; it doubles on every further failure. Must be positive.' },
  { group: 'sidecar', name: 'retry-interval-max', type: 'duration', default: 5 * 60_000, help: 'Longest retry delay after failed operations. Must be positive.' },
  { group: 'sidecar', name: 'node-deployment', type: 'bool', default: false, help: 'Run one sidecar per node: handle only objects labelled snapshot.storage.kubernetes.io/managed-by=$NODE_NAME. Needs NODE_NAME; cannot be combined with --leader-election.' },
  { group: 'sidecar', name: 'groupsnapshot-name-prefix', type: 'string', default: 'groupsnapshot', help: 'Prefix of the group snapshot name sent in CreateVolumeGroupSnapshot; the VolumeGroupSnapshot UID follows it. Must not be empty while group snapshots are on.' },
  { group: 'sidecar', name: 'groupsnapshot-name-uuid-length', type: 'int', default: -1, help: 'As --snapshot-name-uuid-length, for group snapshot names.' },
  { group: 'sidecar', name: 'feature-gates', type: 'feature-gates', default: [], help: 'Comma-separated Name=true|false pairs: CSIVolumeGroupSnapshot (GA, default true), ReleaseLeaderElectionOnExit (alpha, default false), AllAlpha, AllBeta. May be repeated.' },

  // Flags every Kubernetes CSI sidecar shares.
  { group: 'standard', name: 'version', type: 'bool', default: false, help: 'Print the version and exit.' },
  { group: 'standard', name: 'kubeconfig', type: 'string', default: '', help: 'Path to a kubeconfig file. Empty: use the in-cluster service account.' },
  { group: 'standard', name: 'csi-address', type: 'string', default: '/run/csi/socket', help: 'The CSI driver socket: an absolute path or unix:///path.' },
  { group: 'standard', name: 'leader-election', type: 'bool', default: false, help: 'Elect a leader with a Lease so only one replica acts at a time.' },
  { group: 'standard', name: 'leader-election-namespace', type: 'string', default: '', help: 'Namespace of the leader Lease. Default: $POD_NAMESPACE, else the service account namespace, else "default".' },
  { group: 'standard', name: 'leader-election-lease-duration', type: 'duration', default: 15_000, help: 'How long followers wait before taking over a lease that was not renewed. Must exceed the renew deadline.' },
  { group: 'standard', name: 'leader-election-renew-deadline', type: 'duration', default: 10_000, help: 'How long the leader keeps retrying to renew before it gives up leadership. Must exceed 1.2 x the retry period.' },
  { group: 'standard', name: 'leader-election-retry-period', type: 'duration', default: 5000, help: 'How often candidates try to acquire or renew the lease.' },
  { group: 'standard', name: 'leader-election-labels', type: 'labels', default: {}, help: 'Labels for the leader Lease, as key1:value1,key2:value2. May be repeated.' },
  { group: 'standard', name: 'kube-api-qps', type: 'float', default: 5, help: 'Sustained requests per second to the Kubernetes API.' },
  { group: 'standard', name: 'kube-api-burst', type: 'int', default: 10, help: 'Requests to the Kubernetes API allowed in a burst above --kube-api-qps.' },
  { group: 'standard', name: 'http-endpoint', type: 'string', default: '', help: 'host:port of the HTTP server for metrics and the leader-election health check (for example :8080). Empty disables it.' },
  { group: 'standard', name: 'metrics-address', type: 'string', default: '', help: 'Deprecated: host:port for metrics only. Use --http-endpoint; the two cannot be combined.' },
  { group: 'standard', name: 'metrics-path', type: 'string', default: '/metrics', help: 'HTTP path of the Prometheus metrics.' },
  { group: 'standard', name: 'automaxprocs', type: 'bool', default: false, help: 'Accepted for compatibility (sizes Go threads to the CPU quota in the Go sidecar); no effect here.' },

  // Kubernetes logging flags.
  { group: 'logging', name: 'v', type: 'int', default: 0, help: 'Log verbosity: 2 adds start-up details, 4 secret references, 5 every CSI call (secrets stripped).' },
  { group: 'logging', name: 'vmodule', type: 'string', default: '', help: 'Per-file verbosity (pattern=N,...); accepted with the text format, applied as the overall -v.' },
  { group: 'logging', name: 'logging-format', type: 'string', default: 'text', help: 'Log format: text (klog style) or json.' },
  { group: 'logging', name: 'log-flush-frequency', type: 'duration', default: 5000, help: 'Accepted for compatibility; lines are written as they are logged. Must be positive.' },
  { group: 'logging', name: 'log-text-split-stream', type: 'bool', default: false, help: 'Not supported (needs the LoggingAlphaOptions gate, which cannot be enabled); true is refused.' },
  { group: 'logging', name: 'log-text-info-buffer-size', type: 'quantity', default: 0, help: 'Not supported; a non-zero value is refused.' },
  { group: 'logging', name: 'log-json-split-stream', type: 'bool', default: false, help: 'Not supported; true is refused.' },
  { group: 'logging', name: 'log-json-info-buffer-size', type: 'quantity', default: 0, help: 'Not supported; a non-zero value is refused.' },

  // Flags older charts pass that the Go sidecar no longer has.
  { group: 'compatibility', name: 'enable-volume-group-snapshots', type: 'bool', default: false, help: 'Retired; use --feature-gates=CSIVolumeGroupSnapshot=true|false. When given without that gate, its value sets the gate.', deprecated: '--enable-volume-group-snapshots was removed from csi-snapshotter v8.2; use --feature-gates=CSIVolumeGroupSnapshot=true|false' },
  ...['add_dir_header', 'alsologtostderr', 'logtostderr', 'one_output', 'skip_headers', 'skip_log_headers'].map(
    (name): FlagDefinition => ({ group: 'compatibility', name, type: 'bool', default: false, help: 'Retired klog flag; accepted and ignored (logs always go to stderr).', deprecated: `--${name} is a retired klog flag and has no effect` }),
  ),
  ...['log_backtrace_at', 'log_dir', 'log_file', 'stderrthreshold'].map(
    (name): FlagDefinition => ({ group: 'compatibility', name, type: 'string', default: '', help: 'Retired klog flag; accepted and ignored.', deprecated: `--${name} is a retired klog flag and has no effect` }),
  ),
  { group: 'compatibility', name: 'log_file_max_size', type: 'int', default: 1800, help: 'Retired klog flag; accepted and ignored.', deprecated: '--log_file_max_size is a retired klog flag and has no effect' },
] as const satisfies readonly FlagDefinition[];

const BY_NAME = new Map<string, FlagDefinition>(FLAGS.map((f) => [f.name, f]));

/** The value a flag of each type parses to. */
interface ValueOfType {
  bool: boolean;
  string: string;
  int: number;
  float: number;
  duration: number;
  quantity: number;
  labels: Record<string, string>;
  'feature-gates': string[];
}

type Flag = (typeof FLAGS)[number];

/**
 * Every flag's value under its name, typed by its row of the table: `values['timeout']` is a
 * number (ms) and `values['leader-election']` a boolean, with no casts at the places that read them.
 */
export type FlagValues = { [F in Flag as F['name']]: ValueOfType[F['type']] };

export interface ParsedFlags {
  values: FlagValues;
  /** Flags present on the command line, in order of first appearance. */
  given: string[];
  /** Arguments after the flags (Go's flag package stops at the first non-flag). */
  positional: string[];
  /** Warnings for accepted-but-retired flags. */
  warnings: string[];
}

/** A command-line error: Go's flag package prints the message and the usage, then exits 2. */
export class FlagError extends Error {
  readonly exitCode = 2;
}

/** `--help`/`-h`: print usage and exit 0. */
export class HelpRequested extends Error {}

/** The values as the parser fills them in, by any name; FlagValues is the same object typed. */
type RawValues = Record<string, FlagDefinition['default']>;

function defaults(): RawValues {
  const values: RawValues = {};
  for (const f of FLAGS) values[f.name] = structuredClone(f.default);
  return values;
}

function parseValue(flag: FlagDefinition, text: string, current: FlagDefinition['default']): FlagDefinition['default'] {
  switch (flag.type) {
    case 'bool':
      return parseGoBool(text);
    case 'string':
      return text;
    case 'int':
      return parseGoInt(text);
    case 'float':
      return parseGoFloat(text);
    case 'duration':
      return parseGoDuration(text);
    case 'quantity':
      return parseQuantity(text);
    case 'feature-gates':
      return [...(current as string[]), text];
    case 'labels': {
      const labels = { ...(current as Record<string, string>) };
      for (const item of text.split(',')) {
        const parts = item.split(':');
        if (parts.length !== 2) throw new Error(`malformed item in list of labels: ${item}`);
        labels[parts[0] as string] = parts[1] as string;
      }
      return labels;
    }
  }
}

/**
 * Parses arguments with the rules of Go's flag package: one or two dashes, `=value` or a separate
 * value (booleans only take `=value`), parsing stops at `--` or the first non-flag argument, the last
 * occurrence of a scalar flag wins.
 */
export function parseFlags(args: readonly string[]): ParsedFlags {
  const values = defaults();
  const given: string[] = [];
  const warnings: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) throw new FlagError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const flag = BY_NAME.get(name);
    if (!flag) {
      if (name === 'h' || name === 'help') throw new HelpRequested();
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    let text: string;
    if (inline !== undefined) text = inline;
    else if (flag.type === 'bool') text = 'true';
    else {
      if (i + 1 >= args.length) throw new FlagError(`flag needs an argument: -${name}`);
      text = args[++i] as string;
    }
    try {
      values[name] = parseValue(flag, text, values[name] ?? flag.default);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new FlagError(`invalid value ${JSON.stringify(text)} for flag -${name}: ${reason}`);
    }
    if (!given.includes(name)) {
      given.push(name);
      if (flag.deprecated) warnings.push(flag.deprecated);
    }
  }
  // Every value was built by parseValue for its flag's type, so the typed view holds.
  return { values: values as FlagValues, given, positional: args.slice(i), warnings };
}

function typeLabel(flag: FlagDefinition): string {
  switch (flag.type) {
    case 'bool':
      return '';
    case 'feature-gates':
      return 'mapStringBool';
    case 'labels':
      return 'key:value,...';
    default:
      return flag.type;
  }
}

/** The default as Go prints it in usage text, or '' when it is the zero value. */
export function formatDefault(flag: FlagDefinition): string {
  const d = flag.default;
  if (flag.type === 'duration') return formatGoDuration(d as number);
  if (flag.type === 'feature-gates' || flag.type === 'labels') return '';
  if (flag.type === 'bool') return d ? 'true' : '';
  if (flag.type === 'string') return d === '' ? '' : JSON.stringify(d);
  if (flag.type === 'quantity') return d === 0 ? '' : String(d);
  return String(d);
}

export function usage(program: string): string {
  const lines = [`Usage of ${program}:`];
  for (const flag of [...FLAGS as readonly FlagDefinition[]].sort((a, b) => a.name.localeCompare(b.name))) {
    const label = typeLabel(flag);
    lines.push(`  -${flag.name}${label ? ` ${label}` : ''}`);
    const d = formatDefault(flag);
    lines.push(`    \t${flag.help}${d ? ` (default ${d})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** The README's flag reference, one table per group. */
export function flagsMarkdown(): string {
  const titles: Record<FlagGroup, string> = {
    sidecar: 'Sidecar flags',
    standard: 'Standard CSI sidecar flags',
    logging: 'Logging flags',
    compatibility: 'Accepted for compatibility with older charts (a warning is logged)',
  };
  const out: string[] = [];
  for (const group of Object.keys(titles) as FlagGroup[]) {
    out.push(`#### ${titles[group]}`, '', '| Flag | Type | Default | Meaning |', '| --- | --- | --- | --- |');
    for (const flag of (FLAGS as readonly FlagDefinition[]).filter((f) => f.group === group)) {
      const d = formatDefault(flag) || (flag.type === 'bool' ? 'false' : flag.type === 'string' ? '""' : '');
      out.push(`| \`--${flag.name}\` | ${flag.type} | ${d ? `\`${d}\`` : ''} | ${flag.help.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
