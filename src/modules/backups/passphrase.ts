// Where the CLI gets the secrets passphrase: a file (`--passphrase-file`, first line) or, on a
// terminal, a prompt without echo. Never an argument: argv is readable by every local user (ps).
import { readFile } from 'node:fs/promises';
import { checkPassphrase } from './secrets-box.js';

async function prompt(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw new Error('no terminal to ask for the secrets passphrase: pass --passphrase-file FILE');
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let s = '';
      const onData = (d: string): void => {
        for (const ch of d) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            return resolve(s);
          }
          if (ch === '\u0003') {
            input.off('data', onData);
            return reject(new Error('cancelled'));
          }
          if (ch === '\u007f') s = s.slice(0, -1);
          else s += ch;
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}

export async function readPassphrase(file: string | undefined, opts: { confirm: boolean }): Promise<string> {
  let pass: string;
  if (file !== undefined) {
    pass = (await readFile(file, 'utf8')).split(/\r?\n/)[0] ?? '';
  } else {
    pass = await prompt('secrets passphrase: ');
    if (opts.confirm && (await prompt('again: ')) !== pass) throw new Error('the passphrases differ');
  }
  checkPassphrase(pass);
  return pass;
}
