// Generates TypeScript types for proto/csi.proto into src/csi/generated/ (not committed).
// Runs on `npm ci` (prepare) and before every build, so the types never drift from the proto.
// The loader options here must match the ones in src/csi/proto.ts: they decide the shapes.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/csi/generated');
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
    '--grpcLib=@grpc/grpc-js',
    `--outDir=${out}`,
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--importFileExtension=.js',
    join(root, 'proto/csi.proto'),
  ],
  { stdio: 'inherit', cwd: root },
);

// One index of the csi.v1 message and service types, so code imports `type { csi }` from one place.
const v1 = join(out, 'csi/v1');
const modules = readdirSync(v1).filter((f) => f.endsWith('.ts')).sort();
writeFileSync(
  join(v1, 'index.ts'),
  modules.map((f) => `export type * from './${f.replace(/\.ts$/, '.js')}';`).join('\n') + '\n',
);
