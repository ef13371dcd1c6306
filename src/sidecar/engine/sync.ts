import { classifyCreateError, errorText } from '../../csi/errors.js';
import type { Logger } from '../../observe/logger.js';
import { isUnprocessable } from '../../kube/rest.js';
import type { Outcome } from '../../runtime/controller.js';
import { goQuote } from '../messages.js';
import { csiSnapshotName } from '../names.js';
import { driverParameters } from '../parameters.js';
import { addAnnotation, removeAnnotation, removeFinalizer, type PatchOp } from './patches.js';
import { annotationSecretData, secretRefFromParameters, type SecretRef } from '../secrets.js';
import type { SnapshotError } from '../types.js';
import { apiWriteError, nextStep, recordFailure, type EventSubject, type WarningRecorder } from './failure.js';
import type { ObjectApi } from './object-api.js';
import { pollDelayForAge } from './poll-delay.js';

/**
 * The one sync engine for VolumeSnapshotContents and VolumeGroupSnapshotContents. Both kinds walk
 * the same steps: mark the object as being created, ask the driver, record what it said in status,
 * take the mark off; on deletion, delete on storage, clear status, release the finalizer. What
 * differs between the kinds (the annotation and finalizer keys, the CSI calls, the status layout,
 * the wording of every message) is supplied by a `SyncKind`.
 */

/** The next step for an object, decided from the object alone (level-triggered). */
export type Step =
  | { kind: 'nothing' }
  /** Someone else (the snapshot-controller) has to act first: look again later, without backoff. */
  | { kind: 'wait' }
  | { kind: 'remove-being-created' }
  /** Deletion with no storage work: release the finalizer. */
  | { kind: 'release' }
  /** Deletion: delete on storage when the kind says there is something to delete, then release. */
  | { kind: 'delete' }
  /** Ask the driver to cut the snapshot (first create, or again while nothing usable is recorded). */
  | { kind: 'create'; reason: string }
  /** A dynamic snapshot recorded but not ready: read it from the driver, write only on change. */
  | { kind: 'poll' }
  /** A pre-provisioned (or group member) snapshot: read it from the driver, write only on change. */
  | { kind: 'refresh' };

export interface SyncedObject {
  metadata: { name: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string>; finalizers?: string[]; creationTimestamp?: string; deletionTimestamp?: string };
  status?: { readyToUse?: boolean; error?: SnapshotError };
}

/** What a kind's create step hands to the driver. */
export interface CutRequest<T> {
  object: T;
  /** The driver's idempotency key, from the UID of the snapshot (or group) the object is bound to. */
  name: string;
  parameters: Record<string, string>;
  secrets: Record<string, string>;
  deadline: Date;
  /** For what the driver answered that is wrong but not fatal. */
  log: Logger;
}

/** Secret references from class parameters, for reading a pre-provisioned snapshot. */
export interface ReadSecretSource {
  prefix: string;
  label: string;
  variables: Record<string, string>;
}

/**
 * One kind of content, as the engine needs it. `O` is what the driver reports about a snapshot (the
 * kind's status patch builder turns it into a write).
 */
export interface SyncKind<T extends SyncedObject, O> {
  kind: string;
  subject(obj: T): EventSubject;
  decide(obj: T): Step;
  beingCreated: string;
  finalizer: string;
  deletionSecretKeys: { name: string; namespace: string };
  /** What the Go sidecar's messages call the snapshot ('snapshot', 'group snapshot'); its content is '<noun> content'. */
  noun: 'snapshot' | 'group snapshot';
  className(obj: T): string | undefined;
  /** Whether a dynamic object must name a class (a group member of a single snapshot need not). */
  needsClass(obj: T): boolean;
  /** Event reasons are the Go sidecar's: `<prefix>SnapshotCreationFailed`, `<prefix>SnapshotDeleteError`, … */
  reasonPrefix: '' | 'Group';

  /** The snapshot (or group) object this content is bound to. */
  ref(obj: T): { name?: string; namespace?: string; uid?: string };
  /** How the create request is named: `<prefix>-<UID part>`. */
  naming: { prefix: string; uuidLength: number };
  /** With --extra-create-metadata: the parameters that name the objects involved. */
  metadataParameters?(refName: string, refNamespace: string, contentName: string): Record<string, string>;
  /** Create: the message when the object names nothing to snapshot, or undefined. */
  missingSource(obj: T): string | undefined;
  /** Calls the driver; throws its error, which `cutFailed` words. */
  cut(request: CutRequest<T>): Promise<O>;
  /** Read the snapshot (poll or refresh); a thrown Error with a `SyncError` is worded already. */
  read(obj: T, mode: 'poll' | 'refresh', secrets: Record<string, string>, deadline: Date): Promise<O>;
  /**
   * Where a read finds its secrets: Secret references in the class parameters, then the
   * deletion-secret annotations (which win when both apply).
   */
  readSecrets(obj: T, mode: 'poll' | 'refresh'): { fromClass?: ReadSecretSource; fromAnnotations: boolean };
  statusUpdate(current: T['status'], seen: O): PatchOp[];
  clearedStatus(current: T['status']): PatchOp[];
  /** Whether a deletion has a storage snapshot to delete (the policy and what is recorded decide). */
  hasStorageToDelete(obj: T): boolean;
  deleteFromStorage(obj: T, secrets: Record<string, string>, deadline: Date): Promise<void>;
  /** When the storage snapshot was cut (Unix ms), for spacing readiness polls. */
  createdAtMs(obj: T): number | undefined;
  words: KindWords;
}

/** Every message a kind's sync can write, in the Go sidecar's words for that kind. */
export interface KindWords {
  createInputs(name: string, err: string): string;
  notBound(name: string): string;
  classNotFound(className: string): string;
  mark(name: string, err: string): string;
  cutFailed(obj: unknown, err: string): string;
  unmarkAfterCut(name: string, err: string): string;
  unmarkStep(name: string, err: string): string;
  unmarkAfterFinalError(name: string, err: string): string;
  unmarkAfterFinalErrorLog: string;
  readFailed(name: string, err: string): string;
  deleteInputs(name: string, err: string): string;
  deleteFailed(name: string, err: string): string;
  deleteEvent: string;
}

/** The timing settings every kind's sync takes from its flags. */
export interface SyncTimings {
  timeoutMs: number;
  /** Longest pause between readiness polls of a snapshot that is not ready yet. */
  maxPollIntervalMs: number;
  /** --retry-interval-max, named in failure messages. */
  retryIntervalMaxMs: number;
}

/** What a sync is given: the API, the classes, where Events go, and the kind's settings (S). */
export interface SyncDeps<T, C, S extends SyncTimings = SyncTimings> {
  api: ObjectApi<T>;
  classes(name: string): C | undefined;
  events: WarningRecorder;
  settings: S;
  log: Logger;
  /** Called with every object the sync wrote, so the controller's view never goes back in time. */
  observed?(obj: T): void;
  now?(): Date;
}

/** The create request's name; a UID too short for the configured length is an error to record, not a call. */
function requestName(prefix: string, uid: string, uuidLength: number): string {
  try {
    return csiSnapshotName(prefix, uid, uuidLength);
  } catch (err) {
    throw new SyncError(errorText(err));
  }
}

/** An error whose message is already the text to record (its `cause` keeps the original). */
export class SyncError extends Error {}

/** A failed step of a deletion: the Event to record besides the error. */
class DeleteError extends Error {
  constructor(message: string, readonly event: string) {
    super(message);
  }
}

const done: Outcome = { type: 'done' };

/** Performs the next step of one object and says what the queue should do next. */
export function syncObject<T extends SyncedObject, C extends { parameters?: Record<string, string> }, O>(
  kind: SyncKind<T, O>,
  obj: T,
  deps: SyncDeps<T, C>,
): Promise<Outcome> {
  return new Sync(kind, deps, obj).run();
}

class Sync<T extends SyncedObject, C extends { parameters?: Record<string, string> }, O> {
  private readonly now: () => Date;
  /** The newest copy of the object: what the sync read or wrote last. Failures are recorded on it. */
  private latest: T;

  constructor(private readonly kind: SyncKind<T, O>, private readonly deps: SyncDeps<T, C>, private readonly obj: T) {
    this.now = deps.now ?? (() => new Date());
    this.latest = obj;
  }

  private get name(): string {
    return this.obj.metadata.name;
  }

  async run(): Promise<Outcome> {
    const step = this.kind.decide(this.obj);
    this.deps.log.v(4).info(`Syncing ${this.kind.kind}`, { content: this.name, step: step.kind });
    try {
      switch (step.kind) {
        case 'nothing':
          return done;
        case 'wait':
          return this.lookAgainLater(this.obj);
        case 'remove-being-created':
          return await this.removeBeingCreated();
        case 'release':
          return await this.release();
        case 'delete':
          return await this.delete();
        case 'create':
          return await this.create();
        case 'poll':
        case 'refresh':
          return await this.read(step.kind);
      }
    } catch (err) {
      return this.errorPolicy(step, err);
    }
  }

  /**
   * What a failed step leaves behind. A failed create or read is recorded on the object (status.error
   * and a Warning Event, once per distinct message); a failed deletion step gets an Event. Either
   * way the key is retried with backoff.
   */
  private async errorPolicy(step: Step, err: unknown): Promise<Outcome> {
    const { noun, reasonPrefix } = this.kind;
    const reason = step.kind === 'create' ? step.reason : step.kind === 'poll' || step.kind === 'refresh' ? `${reasonPrefix}SnapshotContentCheckandUpdateFailed` : undefined;
    if (reason !== undefined) {
      const what = reason.endsWith('CreationFailed') ? `Failed to create ${noun}: ` : `Failed to check and update ${noun} content: `;
      const message = what + errorText(err) + nextStep(err, this.deps.settings.retryIntervalMaxMs);
      await recordFailure({
        latest: this.latest,
        reason,
        message,
        now: this.now(),
        write: (ops) => this.write(ops, 'status'),
        subject: (o) => this.kind.subject(o),
        events: this.deps.events,
        log: this.deps.log,
      });
      return { type: 'retry', error: new Error(message) };
    }
    if (err instanceof DeleteError) this.deps.events.warning(this.kind.subject(this.latest), `${reasonPrefix}SnapshotDeleteError`, err.event);
    return { type: 'retry', error: err };
  }

  private async write(ops: PatchOp[], subresource?: 'status'): Promise<T> {
    this.latest = await this.deps.api.patch(this.name, ops, subresource);
    this.deps.observed?.(this.latest);
    return this.latest;
  }

  /** Runs an API write; its failure becomes `wording(text)` (a SyncError, or what `wrap` makes). */
  private async writeOr(ops: PatchOp[], subresource: 'status' | undefined, wording: (err: unknown) => Error): Promise<void> {
    try {
      await this.write(ops, subresource);
    } catch (err) {
      throw wording(err);
    }
  }

  /**
   * Puts the being-created mark on. When the copy at hand had no annotations and the stored object
   * has some by now, the guarded write fails without touching them: the object is read again and
   * the mark added beside what another client wrote (a being-deleted mark must never be lost).
   */
  private async markBeingCreated(): Promise<void> {
    const mark = this.kind.beingCreated;
    try {
      await this.write(addAnnotation(this.obj.metadata, mark, 'yes'));
    } catch (err) {
      if (this.obj.metadata.annotations || !isUnprocessable(err)) throw err;
      this.latest = await this.deps.api.get(this.name);
      this.deps.observed?.(this.latest);
      const ops = addAnnotation(this.latest.metadata, mark, 'yes');
      if (ops.length > 0) await this.write(ops);
    }
  }

  private deadline(): Date {
    return new Date(Date.now() + this.deps.settings.timeoutMs);
  }

  private lookAgainLater(obj: T): Outcome {
    const created = obj.metadata.creationTimestamp ? Date.parse(obj.metadata.creationTimestamp) : NaN;
    return { type: 'after', delayMs: pollDelayForAge(Number.isFinite(created) ? created : undefined, this.deps.settings.maxPollIntervalMs, this.now()) };
  }

  private afterSuccess(): Outcome {
    // A deletion that came while the being-created mark was on waited for the mark. Its removal is
    // the sidecar's own write, which brings no update event (see shouldEnqueueUpdate), so without
    // this the deletion would wait for the next resync: the object is looked at again at once.
    if (this.latest.metadata.deletionTimestamp) return { type: 'after', delayMs: 0 };
    // Stryker disable next-line OptionalChaining: it follows a status write or a step decided from a written status, so status is set; `?.` only satisfies the type.
    if (this.latest.status?.readyToUse === true) return done;
    return { type: 'after', delayMs: pollDelayForAge(this.kind.createdAtMs(this.latest), this.deps.settings.maxPollIntervalMs, this.now()) };
  }

  private annotationSecrets(obj: T): Promise<Record<string, string>> {
    return annotationSecretData({
      annotations: obj.metadata.annotations,
      keys: this.kind.deletionSecretKeys,
      what: { kind: `${this.kind.noun} content`, name: obj.metadata.name },
      getSecret: (ref) => this.deps.api.getSecret(ref),
      log: this.deps.log,
    });
  }

  private async removeBeingCreated(): Promise<Outcome> {
    const { words } = this.kind;
    await this.writeOr(removeAnnotation(this.obj.metadata, this.kind.beingCreated), undefined, (err) => new Error(words.unmarkStep(this.name, goQuote(errorText(err)))));
    // Changes of this annotation do not re-queue the object, so the next step is scheduled here.
    return this.afterSuccess();
  }

  /** Cut the snapshot (or, repeated with the same name, find it again) and record it. */
  private async create(): Promise<Outcome> {
    const { kind, name } = this;
    const { words } = kind;
    let klass: C | undefined;
    let secrets: Record<string, string>;
    try {
      const className = kind.className(this.obj);
      if (className) {
        klass = this.deps.classes(className);
        if (!klass) throw new Error(words.classNotFound(className));
      } else if (kind.needsClass(this.obj)) {
        throw new Error(`failed to take ${kind.noun} ${name} without a ${kind.noun} class`);
      }
      secrets = await this.annotationSecrets(this.obj);
    } catch (err) {
      throw new SyncError(words.createInputs(name, goQuote(errorText(err))));
    }

    // The being-created mark goes on the object before the driver is asked, so that a crash at any
    // later point leaves a record that a storage snapshot may exist: deletion waits for it.
    try {
      if (!(kind.beingCreated in (this.obj.metadata.annotations ?? {}))) {
        await this.markBeingCreated();
      } else {
        // Retrying after an earlier attempt: read the object, the cache may not show our last write yet.
        this.latest = await this.deps.api.get(name);
        this.deps.observed?.(this.latest);
      }
    } catch (err) {
      throw new SyncError(words.mark(name, goQuote(apiWriteError(name, err))));
    }
    const working = this.latest;

    let parameters: Record<string, string>;
    try {
      parameters = driverParameters(klass?.parameters);
    } catch (err) {
      throw new SyncError(`failed to remove CSI Parameters of prefixed keys: ${errorText(err)}`);
    }
    const ref = kind.ref(working);
    // Stryker disable next-line StringLiteral: the API server refuses a bound reference without both name and namespace; '' only satisfies the type.
    if (kind.metadataParameters) Object.assign(parameters, kind.metadataParameters(ref.name ?? '', ref.namespace ?? '', name));
    if (!ref.uid) throw new SyncError(words.notBound(name));
    const missing = kind.missingSource(working);
    if (missing !== undefined) throw new SyncError(missing);
    const requested = requestName(kind.naming.prefix, ref.uid, kind.naming.uuidLength);

    let seen: O;
    // At the default verbosity, as the Go sidecar logs each create it sends.
    this.deps.log.info(`Creating ${kind.noun} for ${kind.kind} ${name} through the CSI driver`, { name: requested });
    try {
      seen = await kind.cut({ object: working, name: requested, parameters, secrets, deadline: this.deadline(), log: this.deps.log });
    } catch (err) {
      if (err instanceof SyncError) throw err;
      if (classifyCreateError(err) === 'final') {
        // The driver will not cut this snapshot: deletion may proceed again.
        try {
          await this.write(removeAnnotation(working.metadata, kind.beingCreated));
        } catch (patchErr) {
          // The mark stays and a deletion waits, so that is what this attempt reports (status.error
          // and the Event, as the behaviour contract says); the driver's answer goes to the log.
          this.deps.log.warn(words.unmarkAfterFinalErrorLog, { content: name, error: errorText(patchErr), driverError: errorText(err) });
          throw new SyncError(words.unmarkAfterFinalError(name, errorText(patchErr)));
        }
      }
      throw new SyncError(words.cutFailed(working, goQuote(errorText(err))), { cause: err });
    }

    const ops = kind.statusUpdate(working.status, seen);
    if (ops.length > 0) await this.writeOr(ops, 'status', (err) => new SyncError(`error updating status for volume ${kind.noun} content ${name}: ${apiWriteError(name, err)}`));
    // The snapshot is recorded by handle: the mark is no longer needed.
    await this.writeOr(removeAnnotation(this.latest.metadata, kind.beingCreated), undefined, (err) => new SyncError(words.unmarkAfterCut(name, goQuote(errorText(err)))));
    return this.afterSuccess();
  }

  /** Ask the driver about a recorded snapshot and write status only when something changed. */
  private async read(mode: 'poll' | 'refresh'): Promise<Outcome> {
    const { kind, name, obj } = this;
    const { words } = kind;
    let secrets: Record<string, string> = {};
    const { fromClass, fromAnnotations } = kind.readSecrets(obj, mode);
    const className = kind.className(obj);
    if (fromClass && className) {
      const klass = this.deps.classes(className);
      if (!klass) throw new SyncError(`failed to get ${kind.noun} class ${className} for ${kind.noun} content ${name}: ${words.classNotFound(className)}`);
      secrets = await this.classSecrets(klass, fromClass);
    }
    if (fromAnnotations) {
      try {
        secrets = await this.annotationSecrets(obj);
      } catch (err) {
        throw new SyncError(`failed to get credentials from annotation for ${kind.noun} content ${name}: ${errorText(err)}`);
      }
    }
    let seen: O;
    try {
      seen = await kind.read(obj, mode, secrets, this.deadline());
    } catch (err) {
      if (err instanceof SyncError) throw err;
      throw new SyncError(words.readFailed(name, goQuote(errorText(err))), { cause: err });
    }
    const ops = kind.statusUpdate(obj.status, seen);
    if (ops.length > 0) await this.writeOr(ops, 'status', (err) => new SyncError(apiWriteError(name, err)));
    return this.afterSuccess();
  }

  private async classSecrets(klass: C, source: ReadSecretSource): Promise<Record<string, string>> {
    let ref: SecretRef | undefined;
    try {
      ref = secretRefFromParameters(klass.parameters, source.prefix, source.label, source.variables);
    } catch (err) {
      throw new SyncError(`failed to get secret reference for ${this.kind.noun} content ${this.name}: ${errorText(err)}`);
    }
    if (!ref) return {};
    try {
      return await this.deps.api.getSecret(ref);
    } catch (err) {
      throw new SyncError(`failed to get credentials for ${this.kind.noun} content ${this.name}: ${errorText(err)}`);
    }
  }

  /** Delete the storage snapshot when there is one to delete, then release the object. */
  private async delete(): Promise<Outcome> {
    const { kind, name, obj } = this;
    const { words } = kind;
    if (kind.hasStorageToDelete(obj)) {
      let secrets: Record<string, string>;
      try {
        secrets = await this.annotationSecrets(obj);
      } catch (err) {
        throw new DeleteError(words.deleteInputs(name, goQuote(errorText(err))), 'Failed to get snapshot credentials');
      }
      try {
        await kind.deleteFromStorage(obj, secrets, this.deadline());
      } catch (err) {
        throw new DeleteError(words.deleteFailed(name, errorText(err)), words.deleteEvent);
      }
      const ops = kind.clearedStatus(obj.status);
      if (ops.length > 0) await this.writeOr(ops, 'status', (err) => new DeleteError(apiWriteError(name, err), 'Failed to clear content status'));
    }
    // The storage snapshot is gone (or was never the sidecar's to delete): release in the same sync.
    return this.release();
  }

  private async release(): Promise<Outcome> {
    const ops = removeFinalizer(this.latest.metadata, this.kind.finalizer);
    if (ops.length > 0) await this.writeOr(ops, undefined, (err) => new Error(apiWriteError(this.name, err)));
    return done;
  }
}
