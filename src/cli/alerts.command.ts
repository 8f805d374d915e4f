// `limen alerts config`: prints an Alertmanager configuration that delivers to this instance's
// receiver (and, commented at the end or alone with --prometheus, the Prometheus side).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.js';
import { loadProcessConfig, projectRoot } from '../config/runtime.js';
import { renderAlertmanagerConfig, renderPrometheusScrape } from '../modules/alerts/index.js';

const SHIPPED_AM_CONFIG = join(projectRoot, 'deploy', 'alertmanager', 'alertmanager.yml');
const SHIPPED_RULES = join(projectRoot, 'deploy', 'prometheus', 'limen-alerts.yml');

interface ConfigCommandOptions {
  url?: string;
  tokenFile?: string;
  alertmanager: string;
  prometheus?: boolean;
}

/**
 * The instance's base URL: --url / LIMEN_URL, else what the running instance wrote to its
 * limen.pid (the address it really listens on), else HOST:PORT from the configuration.
 */
export function instanceUrl(config: Config, explicit: string | undefined): string {
  if (explicit !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(explicit)) throw new Error(`--url/LIMEN_URL must be an http(s) URL, got "${explicit}"`);
    return explicit.replace(/\/+$/, '');
  }
  const pidFile = join(config.dataDir, 'limen.pid');
  if (existsSync(pidFile)) {
    try {
      const { url } = JSON.parse(readFileSync(pidFile, 'utf8')) as { url?: unknown };
      if (typeof url === 'string' && /^https?:\/\//.test(url)) return url.replace(/\/+$/, '');
    } catch {
      // unreadable: fall back to the configuration
    }
  }
  // A wildcard listen address is not a destination; Alertmanager runs next to LIMEN by default.
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

export function registerAlertsCommands(program: Command): void {
  const alerts = program.command('alerts').description('alert delivery from Prometheus and Alertmanager to LIMEN');
  alerts
    .command('config')
    .description('print an Alertmanager configuration delivering to this instance (amtool check-config clean)')
    .addOption(new Option('--url <url>', 'base URL of the LIMEN instance as Alertmanager reaches it').env('LIMEN_URL'))
    .option('--token-file <path>', 'reference the webhook token by credentials_file instead of printing it inline')
    .option('--alertmanager <host:port>', 'Alertmanager address for the Prometheus side', '127.0.0.1:9093')
    .option('--prometheus', 'print only the Prometheus side (rules, Alertmanager target, scrape job)')
    .action((opts: ConfigCommandOptions) => {
      const config = loadProcessConfig();
      const baseUrl = instanceUrl(config, opts.url);
      const prometheusSnippet = renderPrometheusScrape({ baseUrl, rulesFile: SHIPPED_RULES, alertmanager: opts.alertmanager, metricsToken: config.metricsToken });
      if (opts.prometheus) {
        process.stdout.write(prometheusSnippet);
        return;
      }
      const shipped = readFileSync(SHIPPED_AM_CONFIG, 'utf8');
      const tokenOpt = opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : { token: config.alertWebhookToken };
      process.stdout.write(renderAlertmanagerConfig(shipped, { baseUrl, ...tokenOpt, prometheusSnippet }));
    });
}
