import {
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  Observable,
  ServerConfiguration,
  type ConfigurationOptions,
  type KubeConfig,
  type Middleware,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { TokenBucket } from '../runtime/rate-limiter.js';

/**
 * Typed client-node API clients that share one client-side rate limiter, the way a Go clientset
 * built from a REST config with QPS/burst does. Build one set per logical client: the sidecar's
 * main clients and the leader elector each get their own, as the Go sidecar does.
 */

export interface ClientLimits {
  /** --kube-api-qps */
  qps: number;
  /** --kube-api-burst */
  burst: number;
}

export interface KubeApiClients {
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  /** The bucket every request of these clients draws from. */
  limiter: TokenBucket;
}

/** Holds each request until the bucket grants it a token. */
export function rateLimitMiddleware(limiter: TokenBucket): Middleware {
  return {
    async pre(context: RequestContext): Promise<RequestContext> {
      await limiter.take();
      return context;
    },
    post: (context: ResponseContext): Promise<ResponseContext> => Promise.resolve(context),
  };
}

type ApiConstructor<T> = new (configuration: ReturnType<typeof createConfiguration>) => T;

/** Like `KubeConfig.makeApiClient`, with the limiter in front of every request. */
export function makeLimitedApiClient<T>(kc: KubeConfig, api: ApiConstructor<T>, limiter: TokenBucket): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster (set current-context)');
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    // KubeConfig adds TLS settings and credentials (refreshing tokens and exec plugins) per request.
    authMethods: { default: kc },
    promiseMiddleware: [rateLimitMiddleware(limiter)],
  });
  return new api(configuration);
}

export function createKubeApiClients(kc: KubeConfig, limits: ClientLimits): KubeApiClients {
  const limiter = new TokenBucket(limits.qps, limits.burst);
  return {
    core: makeLimitedApiClient(kc, CoreV1Api, limiter),
    coordination: makeLimitedApiClient(kc, CoordinationV1Api, limiter),
    limiter,
  };
}

// The object-parameter API takes per-call middleware in client-node's Observable form.
function preMiddleware(edit: (context: RequestContext) => void): ObservableMiddleware {
  return {
    pre(context: RequestContext) {
      edit(context);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
}

/**
 * Per-call options that add request edits *after* the client's own middleware. client-node's
 * default merge strategy replaces the configured middleware (which would bypass the limiter), so
 * every per-call option in this project goes through here.
 */
export function perCallOptions(edits: { contentType?: string; signal?: AbortSignal }): ConfigurationOptions {
  return {
    middleware: [
      preMiddleware((context) => {
        if (edits.contentType) context.setHeaderParam('Content-Type', edits.contentType);
        if (edits.signal) context.setSignal(edits.signal);
      }),
    ],
    middlewareMergeStrategy: 'append',
  };
}
