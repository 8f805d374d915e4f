// Release readiness (CONTRACT.md §8): `limen readiness`.
export { runReadiness, ITEMS, type ReadinessReport, type ReadinessItem } from './readiness.js';
export { writeReadiness, readinessMarkdown } from './report.js';
