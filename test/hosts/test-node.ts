// A libvirt test-driver node file: a second simulated host with its own CPUs and memory. Every
// connection to test:///<file> gets its own fresh state, so each file is an isolated "host".
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeTestNode(dir: string, name: string, cpus: number, memoryMb: number): string {
  const file = join(dir, `${name}.xml`);
  writeFileSync(
    file,
    `<node><cpu><mhz>2000</mhz><model>${name}</model><active>${cpus}</active><nodes>1</nodes><sockets>1</sockets><cores>${cpus}</cores><threads>1</threads></cpu><memory>${memoryMb * 1024}</memory></node>\n`,
  );
  return `test://${file}`;
}
