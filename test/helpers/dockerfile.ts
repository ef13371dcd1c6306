import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';

/**
 * Runs a Dockerfile's steps without a container engine, so tests can check what an image built
 * from it would hold and do. Each stage gets its own folder standing for its filesystem root;
 * container paths (WORKDIR, COPY destinations and `--from` sources, ENTRYPOINT arguments) are mapped
 * into it. The base image is stood in for by this machine: RUN lines run under `sh -c` with the
 * host's `node` and `npm`, in the stage's WORKDIR, and must therefore use paths relative to it.
 *
 * Supported, as this project's Dockerfile uses them: ARG (before the first FROM, used in FROM),
 * FROM ... AS name, WORKDIR, COPY [--from=stage] (shell form, no wildcards), RUN (shell form), ENV
 * key=value, USER, ENTRYPOINT and CMD (exec form). Anything else is refused, so that a change to the
 * Dockerfile that this emulation would get wrong fails loudly instead of being skipped.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Joins continuation lines, drops comments and blank lines, and groups instructions by stage. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const logical: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (pending === '' && /^\s*(#|$)/.test(line)) return;
    if (pending !== '' && /^\s*#/.test(line)) return; // comment lines inside a continued instruction
    if (pending === '') startLine = index + 1;
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/.exec(full);
    if (match) logical.push({ keyword: match[1].toUpperCase(), args: match[2].trim(), line: startLine });
  });
  if (pending !== '') throw new Error('Dockerfile ends inside a continued line');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of logical) {
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const from = match[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
        const name = a ?? b ?? '';
        if (!(name in globalArgs)) throw new Error(`line ${instruction.line}: FROM uses $${name}, which no ARG before the first FROM declares`);
        return globalArgs[name];
      });
      stages.push({ name: match[2] ?? String(stages.length), from, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: only ARG may come before the first FROM`);
      const [name, value = ''] = instruction.args.split('=', 2);
      globalArgs[name.trim()] = value.trim();
    } else {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new Error('the Dockerfile has no FROM');
  return { globalArgs, stages };
}

/** A .dockerignore: Go-style globs (`*`, `?`, `**`), `!` exceptions, the last matching line wins. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = posix.normalize((negated ? line.slice(1) : line).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*' && pattern[i + 1] === '*') {
          source += '.*';
          i++;
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negated, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    // A pattern that matches a folder also matches everything in it.
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) excluded = !rule.negated;
    return excluded;
  };
}

export interface EmulateOptions {
  /** The build context (the repository root). */
  contextDir: string;
  /** Its .dockerignore text ('' when there is none). */
  dockerignore: string;
  /** An empty folder that receives one folder per stage. */
  workDir: string;
  /** Added to the environment of RUN lines, e.g. npm_config_offline=true. */
  env?: Record<string, string>;
  /**
   * Stages whose RUN lines are not executed: the listed container paths are copied from the given
   * host folders instead, before COPY --from reads them.
   */
  substitute?: Record<string, Record<string, string>>;
  /** Called with each step as it runs (for test logs). */
  log?: (line: string) => void;
}

export interface EmulatedImage {
  /** The final stage's root folder. */
  root: string;
  /** The final stage's WORKDIR, mapped. */
  workdir: string;
  user: string | undefined;
  env: Record<string, string>;
  /** ENTRYPOINT with container paths mapped into `root`. */
  entrypoint: string[];
  cmd: string[] | undefined;
  /** Context paths (relative) that a COPY took into some stage. */
  contextFiles: string[];
}

function execForm(instruction: Instruction): string[] {
  let value: unknown;
  try {
    value = JSON.parse(instruction.args);
  } catch {
    throw new Error(`line ${instruction.line}: ${instruction.keyword} must use the exec form (a JSON array)`);
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`line ${instruction.line}: ${instruction.keyword} must be a JSON array of strings`);
  return value as string[];
}

/** Lists the files under `dir` (relative to `base`), following the layout, not symlinks. */
function walk(base: string, rel: string, out: string[]): void {
  const full = join(base, rel);
  if (lstatSync(full).isDirectory()) for (const entry of readdirSync(full)) walk(base, rel === '' ? entry : `${rel}/${entry}`, out);
  else out.push(rel);
}

/** Runs every stage in order and returns the final one. */
export function emulateDockerfile(dockerfile: ParsedDockerfile, options: EmulateOptions): EmulatedImage {
  const ignored = dockerignoreMatcher(options.dockerignore);
  const log = options.log ?? (() => undefined);
  const roots = new Map<string, string>();
  const contextFiles = new Set<string>();
  let image: EmulatedImage | undefined;

  dockerfile.stages.forEach((stage, index) => {
    const root = join(options.workDir, `stage-${index}-${stage.name}`);
    mkdirSync(root, { recursive: true });
    roots.set(stage.name, root);
    const substitute = options.substitute?.[stage.name];
    const env: Record<string, string> = {};
    let workdir = '/';
    let user: string | undefined;
    let entrypoint: string[] = [];
    let cmd: string[] | undefined;
    const inRoot = (containerPath: string): string => join(root, posix.resolve(workdir, containerPath));

    if (substitute) {
      for (const [containerPath, hostPath] of Object.entries(substitute)) {
        log(`[${stage.name}] substituted: ${containerPath} <- ${hostPath}`);
        cpSync(hostPath, join(root, containerPath), { recursive: true, verbatimSymlinks: true });
      }
    }

    for (const instruction of stage.instructions) {
      const where = `line ${instruction.line} (${stage.name})`;
      switch (instruction.keyword) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, instruction.args);
          mkdirSync(join(root, workdir), { recursive: true });
          break;
        case 'ENV': {
          const match = /^(\w+)=(.*)$/.exec(instruction.args);
          if (!match) throw new Error(`${where}: ENV must be KEY=value`);
          env[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
          break;
        }
        case 'USER':
          user = instruction.args;
          break;
        case 'ENTRYPOINT':
          entrypoint = execForm(instruction);
          cmd = undefined; // as in Docker: a new ENTRYPOINT resets an inherited CMD
          break;
        case 'CMD':
          cmd = execForm(instruction);
          break;
        case 'COPY': {
          const words = instruction.args.split(/\s+/);
          let from: string | undefined;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift() as string;
            if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
            else throw new Error(`${where}: COPY flag ${flag} is not supported by this emulation`);
          }
          if (words.length < 2 || words[0].startsWith('[')) throw new Error(`${where}: COPY needs sources and a destination (shell form)`);
          const dest = words.pop() as string;
          const destIsDir = dest.endsWith('/') || words.length > 1;
          for (const source of words) {
            if (/[*?[]/.test(source)) throw new Error(`${where}: wildcards in COPY sources are not supported by this emulation`);
            let hostSource: string;
            if (from !== undefined) {
              const fromRoot = roots.get(from);
              if (!fromRoot) throw new Error(`${where}: COPY --from=${from} names no earlier stage`);
              if (!isAbsolute(source)) throw new Error(`${where}: COPY --from sources must be absolute paths`);
              hostSource = join(fromRoot, source);
              if (!existsSync(hostSource)) throw new Error(`${where}: ${source} does not exist in stage ${from}`);
            } else {
              const rel = posix.normalize(source).replace(/^\.\/?/, '').replace(/\/$/, '');
              hostSource = join(options.contextDir, rel);
              if (!existsSync(hostSource)) throw new Error(`${where}: ${source} is not in the build context`);
              const files: string[] = [];
              walk(options.contextDir, rel, files);
              const kept = files.filter((f) => !ignored(f));
              if (kept.length === 0) throw new Error(`${where}: ${source} is excluded by .dockerignore`);
              const target = destIsDir && !lstatSync(hostSource).isDirectory() ? posix.join(dest, basename(rel)) : dest;
              for (const file of kept) {
                contextFiles.add(file);
                const to = inRoot(lstatSync(hostSource).isDirectory() ? posix.join(target, posix.relative(rel, file)) : target);
                mkdirSync(dirname(to), { recursive: true });
                cpSync(join(options.contextDir, file), to, { verbatimSymlinks: true });
              }
              log(`[${stage.name}] COPY ${source} -> ${dest} (${kept.length} files)`);
              continue;
            }
            const target = destIsDir && !lstatSync(hostSource).isDirectory() ? posix.join(dest, basename(source)) : dest;
            mkdirSync(dirname(inRoot(target)), { recursive: true });
            cpSync(hostSource, inRoot(target), { recursive: true, verbatimSymlinks: true });
            log(`[${stage.name}] COPY --from=${from} ${source} -> ${dest}`);
          }
          break;
        }
        case 'RUN': {
          if (instruction.args.startsWith('[')) throw new Error(`${where}: RUN must use the shell form`);
          // Absolute container paths would reach this machine's own filesystem, not the stage's.
          if (workdir !== '/' && instruction.args.includes(workdir)) throw new Error(`${where}: RUN must use paths relative to WORKDIR ${workdir}`);
          if (substitute) {
            log(`[${stage.name}] skipped (substituted): RUN ${instruction.args}`);
            break;
          }
          log(`[${stage.name}] RUN ${instruction.args}`);
          const started = Date.now();
          const result = spawnSync('sh', ['-c', instruction.args], {
            cwd: join(root, workdir),
            env: { ...process.env, ...env, ...options.env },
            encoding: 'utf8',
            maxBuffer: 64 * 1024 * 1024,
          });
          if (result.status !== 0) {
            throw new Error(`${where}: RUN ${instruction.args} failed (exit ${result.status}, ${result.error?.message ?? ''}):\n${result.stdout}\n${result.stderr}`);
          }
          log(`[${stage.name}] ... done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
          break;
        }
        default:
          throw new Error(`${where}: ${instruction.keyword} is not supported by this emulation`);
      }
    }

    // Exec-form arguments naming a container path point into the stage's folder.
    const mapped = entrypoint.map((arg) => (isAbsolute(arg) ? join(root, arg) : arg));
    image = { root, workdir: join(root, workdir), user, env, entrypoint: mapped, cmd, contextFiles: [...contextFiles].sort() };
  });
  return image as EmulatedImage;
}

/** Every regular file and symlink under `dir`, relative to it, sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  walk(dir, '', out);
  return out.sort();
}
