import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root folder (the one holding package.json and proto/), found by walking up from
 * this module. Code runs from dist/src/... after a build and from an installed package in a
 * container image, so a fixed number of `..` would break in one of them.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json next to proto/)');
    dir = parent;
  }
}

/**
 * The sidecar's production entry, as the image and the package's `bin` run it: the bundle that
 * `npm run build` makes of the compiled sources (scripts/bundle.mjs). Tests, the demo and the
 * benchmarks start the sidecar from it.
 */
export function sidecarEntry(): string {
  return join(packageRoot(), 'dist', 'bundle', 'csi-snapshotter.js');
}
