export { registerAlertRoutes } from './alerts.routes.js';
export { createAlertsService, type AlertsService } from './alerts.service.js';
export { listAlerts, type AlertFilter, type AlertView, type AlertStatus } from './alerts.repo.js';
export { renderAlertmanagerConfig, renderPrometheusScrape, type AlertsConfigOptions } from './alertmanager-config.js';
