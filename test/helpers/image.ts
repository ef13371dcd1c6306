import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';
import { emulateDockerfile, parseDockerfile, type EmulatedImage, type ParsedDockerfile } from './dockerfile.js';

/**
 * The container image of this project, built outside a container from its Dockerfile (see
 * dockerfile.ts). `npm ci` runs against the npm cache only (npm_config_offline): the tests never
 * reach the registry, and a cache that lacks a package fails the build with npm's own message.
 */

export function projectDockerfile(): ParsedDockerfile {
  return parseDockerfile(readFileSync(join(packageRoot(), 'Dockerfile'), 'utf8'));
}

interface TsConfig {
  extends?: string;
  include?: string[];
  exclude?: string[];
  compilerOptions?: { outDir?: string; rootDir?: string };
}

function readTsConfig(name: string): TsConfig {
  const config = JSON.parse(readFileSync(join(packageRoot(), name), 'utf8')) as TsConfig;
  if (!config.extends) return config;
  const base = readTsConfig(config.extends);
  return { ...base, ...config, compilerOptions: { ...base.compilerOptions, ...config.compilerOptions } };
}

/** The stage that compiles (a RUN with `tsc -p CONFIG`), its WORKDIR and the config it names. */
function compileStage(dockerfile: ParsedDockerfile): { stage: string; workdir: string; config: string } {
  for (const stage of dockerfile.stages) {
    let workdir = '/';
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'WORKDIR') workdir = posix.resolve(workdir, instruction.args);
      const match = instruction.keyword === 'RUN' ? /\btsc\s+-p\s+(\S+)/.exec(instruction.args) : null;
      if (match) return { stage: stage.name, workdir, config: match[1] };
    }
  }
  throw new Error('no stage of the Dockerfile runs `tsc -p CONFIG`');
}

/**
 * What the compile stage produces, taken from this checkout's own build instead of compiling again
 * (tsc over src/ takes 20-30 s on a loaded 2-core machine, too slow for the fast suite): `dist/`
 * from `npm run build`, the same compiler and sources, minus the folders the image's tsconfig
 * excludes. Only `<dir>/**` excludes are understood; anything else is refused. The real-cluster
 * deploy test builds every stage for real and checks that it yields exactly these files.
 */
export function compiledOutputFromCheckout(scratch: string, dockerfile: ParsedDockerfile): { stage: string; containerPath: string; hostPath: string } {
  const { stage, workdir, config } = compileStage(dockerfile);
  const ts = readTsConfig(config);
  const outDir = ts.compilerOptions?.outDir ?? '.';
  if ((ts.compilerOptions?.rootDir ?? '.') !== '.') throw new Error(`${config}: only rootDir "." is understood here`);
  const roots = (ts.include ?? []).map((pattern) => {
    const match = /^([\w./-]+)\/\*\*\/\*\.ts$/.exec(pattern);
    if (!match) throw new Error(`${config}: include pattern ${pattern} is not of the form <dir>/**/*.ts`);
    return match[1];
  });
  if (roots.length !== 1) throw new Error(`${config}: expected one include folder, found ${roots.join(', ')}`);
  const [root] = roots;
  const built = join(packageRoot(), outDir, root);
  if (!existsSync(built)) throw new Error(`${built} does not exist: run \`npm run build\` first`);
  const hostPath = join(scratch, 'compiled', root);
  cpSync(built, hostPath, { recursive: true });
  for (const pattern of ts.exclude ?? []) {
    const match = /^([\w./-]+)\/\*\*$/.exec(pattern);
    if (!match || !match[1].startsWith(`${root}/`)) throw new Error(`${config}: exclude pattern ${pattern} is not of the form ${root}/<dir>/**`);
    rmSync(join(scratch, 'compiled', match[1]), { recursive: true, force: true });
  }
  return { stage, containerPath: posix.join(workdir, outDir, root), hostPath };
}

/**
 * The bundle the compile stage makes (a RUN with `node scripts/bundle.mjs`, after tsc), taken from
 * this checkout's `npm run build` like the compiled tree: container path → host path.
 */
function bundleFromCheckout(dockerfile: ParsedDockerfile, stageName: string): Record<string, string> {
  const stage = dockerfile.stages.find((s) => s.name === stageName);
  let workdir = '/';
  for (const instruction of stage?.instructions ?? []) {
    if (instruction.keyword === 'WORKDIR') workdir = posix.resolve(workdir, instruction.args);
    if (instruction.keyword === 'RUN' && /\bnode\s+scripts\/bundle\.mjs\b/.test(instruction.args)) {
      const built = join(packageRoot(), 'dist', 'bundle');
      if (!existsSync(built)) throw new Error(`${built} does not exist: run \`npm run build\` first`);
      return { [posix.join(workdir, 'dist', 'bundle')]: built };
    }
  }
  return {};
}

export interface BuildOptions {
  /** Run the compile stage too (slow); otherwise its output comes from this checkout's dist/. */
  compile: boolean;
  log?: (line: string) => void;
}

/** Builds the image tree in `workDir` and returns its final stage. */
export function buildImageTree(workDir: string, options: BuildOptions): EmulatedImage {
  const dockerfile = projectDockerfile();
  const dockerignorePath = join(packageRoot(), '.dockerignore');
  const substitute: Record<string, Record<string, string>> = {};
  if (!options.compile) {
    const compiled = compiledOutputFromCheckout(workDir, dockerfile);
    substitute[compiled.stage] = { [compiled.containerPath]: compiled.hostPath, ...bundleFromCheckout(dockerfile, compiled.stage) };
  }
  return emulateDockerfile(dockerfile, {
    contextDir: packageRoot(),
    dockerignore: existsSync(dockerignorePath) ? readFileSync(dockerignorePath, 'utf8') : '',
    workDir,
    env: { npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' },
    substitute,
    ...(options.log ? { log: options.log } : {}),
  });
}
