import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createCertificate, type CertificateOptions, type ServingCertificate } from '../../src/testing/apiserver/certificate.js';

/** What the server saw of one request: the credential and TLS facts a kubeconfig decides. */
export interface Seen {
  authorization: string | null;
  /** Common name of the client certificate, when one was presented and verified against `clientCa`. */
  clientCertificate: string | null;
  /** The SNI name the client sent (none for an IP address). */
  servername: string | null;
}

export interface RecordingServer {
  url: string;
  caPem: string;
  seen: Seen[];
  /** Answers 401 to requests this refuses (default: accept everything). */
  accept: (seen: Seen) => boolean;
  stop(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1 that answers every request with what it saw of it, as JSON. The
 * API test server only takes one bearer token; this one shows exactly which Authorization header,
 * client certificate and SNI name a client sent, over a real TLS connection.
 */
export async function startRecordingServer(options: { certificate?: CertificateOptions; clientCa?: string } = {}): Promise<RecordingServer> {
  const serving: ServingCertificate = createCertificate(options.certificate);
  const server = createServer(
    // The client certificate is asked for but not required, so the absence of one can be recorded too.
    { cert: serving.certPem, key: serving.keyPem, requestCert: options.clientCa !== undefined, rejectUnauthorized: false, ...(options.clientCa ? { ca: options.clientCa } : {}) },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = options.clientCa !== undefined && socket.authorized ? socket.getPeerCertificate() : undefined;
      const cn = peer?.subject?.CN;
      const seen: Seen = {
        authorization: req.headers.authorization ?? null,
        clientCertificate: typeof cn === 'string' ? cn : null,
        servername: typeof socket.servername === 'string' ? socket.servername : null,
      };
      recording.seen.push(seen);
      req.resume();
      if (!recording.accept(seen)) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(seen));
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const recording: RecordingServer = {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPem: serving.certPem,
    seen: [],
    accept: () => true,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return recording;
}
