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
