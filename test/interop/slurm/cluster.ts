/**
 * A single-node Slurm cluster on loopback for the interop suite: Debian's munge and slurm-wlm
 * (.ci/run installs them with apt), started from a temporary folder with their own key, socket,
 * ports, state, logs and pid files, so nothing of a system-wide installation is used or touched.
 * `stop` ends only the daemons it started (by their pid files) and works on a half-started one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';

const PROGRAMS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'squeue', 'sinfo', 'scancel'] as const;
type Program = (typeof PROGRAMS)[number];

/** Absolute paths of the programs, or an error naming the missing ones and how to install them. */
function locate(): Record<Program, string> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  const found: Partial<Record<Program, string>> = {};
  for (const p of PROGRAMS) {
    const dir = dirs.find((d) => existsSync(join(d, p)));
    if (dir) found[p] = join(dir, p);
  }
  const missing = PROGRAMS.filter((p) => !found[p]);
  if (missing.length > 0) {
    throw new Error(`Slurm and munge are not installed (missing: ${missing.join(', ')}); install Debian's packages: apt-get install slurm-wlm munge (.ci/run does)`);
  }
  return found as Record<Program, string>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class SlurmCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'tf-slurm-'));
  readonly conf = join(this.dir, 'slurm.conf');
  private bin: Record<Program, string> | null = null;

  /** The environment for Slurm's client commands (and the jobs they submit): this cluster's slurm.conf. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, SLURM_CONF: this.conf, ...extra };
  }

  /** Runs one of Slurm's commands against this cluster; returns its stdout (throws with stderr on failure). */
  run(program: Exclude<Program, 'munged' | 'slurmctld' | 'slurmd'>, args: string[], env: NodeJS.ProcessEnv = this.env()): string {
    try {
      return execFileSync(this.programs()[program], args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${program} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
    }
  }

  private programs(): Record<Program, string> {
    return (this.bin ??= locate());
  }

  /** Starts munged, slurmctld and slurmd, and waits until the node is idle. */
  async start(cpus: number): Promise<void> {
    const bin = this.programs();
    const d = this.dir;
    // munged refuses a socket folder that others cannot enter, and a key that others can read.
    chmodSync(d, 0o755);
    for (const sub of ['state', 'spool']) mkdirSync(join(d, sub));
    writeFileSync(join(d, 'munge.key'), randomBytes(1024), { mode: 0o400 });
    this.daemon(bin.munged, ['--force', `--socket=${join(d, 'munge.sock')}`, `--key-file=${join(d, 'munge.key')}`, `--log-file=${join(d, 'munged.log')}`, `--pid-file=${join(d, 'munged.pid')}`, `--seed-file=${join(d, 'munged.seed')}`], 'munged.log');
    const host = hostname().split('.')[0]!;
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    writeFileSync(
      this.conf,
      [
        'ClusterName=trajforge',
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        `SlurmUser=${userInfo().username}`,
        `SlurmdUser=${userInfo().username}`,
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${join(d, 'munge.sock')}`,
        `StateSaveLocation=${join(d, 'state')}`,
        `SlurmdSpoolDir=${join(d, 'spool')}`,
        `SlurmctldPidFile=${join(d, 'slurmctld.pid')}`,
        `SlurmdPidFile=${join(d, 'slurmd.pid')}`,
        `SlurmctldLogFile=${join(d, 'slurmctld.log')}`,
        `SlurmdLogFile=${join(d, 'slurmd.log')}`,
        // No cgroups: processes are tracked by parent pid, tasks are not bound.
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'MpiDefault=none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'SlurmdParameters=config_overrides',
        'ReturnToService=2',
        'JobRequeue=1',
        'KillWait=5',
        `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN`,
        `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    this.daemon(bin.slurmctld, ['-i', '-f', this.conf], 'slurmctld.log');
    this.daemon(bin.slurmd, ['-f', this.conf], 'slurmd.log');
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline) {
      try {
        state = this.run('sinfo', ['-h', '-N', '-o', '%T']).trim();
      } catch (e) {
        state = (e as Error).message;
      }
      if (state === 'idle') return;
      await sleep(250);
    }
    throw new Error(`the Slurm node did not become idle within 60 s (last: ${state})\n${this.logs()}`);
  }

  /** Starts a daemon that forks into the background; a failed start names it with its log. */
  private daemon(program: string, args: string[], log: string): void {
    try {
      execFileSync(program, args, { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`${program} did not start: ${err.stderr?.toString().trim() || err.message}\n${this.tail(log)}`);
    }
  }

  private tail(log: string): string {
    const file = join(this.dir, log);
    return existsSync(file) ? `--- ${log} ---\n${readFileSync(file, 'utf8').split('\n').slice(-20).join('\n')}` : '';
  }

  /** The last lines of the daemons' logs (for failure messages). */
  logs(): string {
    return ['munged.log', 'slurmctld.log', 'slurmd.log'].map((l) => this.tail(l)).join('\n');
  }

  /** Cancels what is left of the jobs, ends the daemons it started and removes the folder. */
  async stop(): Promise<void> {
    if (this.bin && existsSync(join(this.dir, 'slurmctld.pid'))) {
      try {
        this.run('scancel', ['--user', userInfo().username]);
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && this.run('squeue', ['-h']).trim() !== '') await sleep(250);
      } catch {
        // The controller is not answering: stopping the daemons is all that is left to do.
      }
    }
    const pids: number[] = [];
    for (const name of ['slurmd', 'slurmctld', 'munged']) {
      const file = join(this.dir, `${name}.pid`);
      const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
      if (Number.isInteger(pid) && pid > 1 && alive(pid)) {
        process.kill(pid, 'SIGTERM');
        pids.push(pid);
      }
    }
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && pids.some(alive)) await sleep(100);
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
