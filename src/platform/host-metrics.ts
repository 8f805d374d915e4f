// Host resource readings behind a small port (house rule 5), so tests can swap in a fake host.
// CPU is measured over the interval between two samples; memory counts what the kernel could
// not hand out (MemAvailable), not page cache; disk is the filesystem holding the data dir.
import { cpus, freemem, totalmem } from 'node:os';
import { readFile, statfs } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

export interface HostSample {
  cpuPercent: number;
  memoryPercent: number;
  diskPercent: number;
}

export interface HostProbe {
  sample(): Promise<HostSample>;
}

interface CpuTimes {
  idle: number;
  total: number;
}

/** Aggregate CPU jiffies from /proc/stat (includes iowait/steal); os.cpus() elsewhere. */
function readCpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    let idle = 0;
    let total = 0;
    for (const c of cpus()) {
      idle += c.times.idle;
      total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
    }
    return { idle, total };
  }
}

async function memoryPercent(): Promise<number> {
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const kb = (key: string): number | undefined => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const total = kb('MemTotal');
    const avail = kb('MemAvailable');
    if (total && avail !== undefined) return ((total - avail) / total) * 100;
  } catch {
    // Not Linux: fall back to os.freemem below.
  }
  return ((totalmem() - freemem()) / totalmem()) * 100;
}

async function diskPercent(dir: string): Promise<number> {
  const s = await statfs(dir);
  const total = s.blocks * s.bsize;
  // Like df: used over (used + available to unprivileged users).
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  return total === 0 ? 0 : (used / (used + avail)) * 100;
}

const round = (n: number): number => Math.round(n * 100) / 100;

export function createHostProbe(dataDir: string): HostProbe {
  let prev = readCpuTimes();
  return {
    async sample() {
      let now = readCpuTimes();
      // Too short an interval (the first sample right after start) gives noise: measure 0.5 s.
      if (now.total - prev.total < 25 * cpus().length) {
        prev = now;
        await new Promise((r) => setTimeout(r, 500));
        now = readCpuTimes();
      }
      const dTotal = now.total - prev.total;
      const dIdle = (now.idle - prev.idle) || 0;
      prev = now;
      const cpu = dTotal > 0 ? ((dTotal - dIdle) / dTotal) * 100 : 0;
      return {
        cpuPercent: round(Math.min(100, Math.max(0, cpu))),
        memoryPercent: round(await memoryPercent()),
        diskPercent: round(await diskPercent(dataDir)),
      };
    },
  };
}
