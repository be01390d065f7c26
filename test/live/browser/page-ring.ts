// Runs in the page: routes the shared workload with the default backend and reports it.
import * as sy from '../../../bindings/index.js';
import { ringRoutes } from './ring-routes.js';

declare global {
  interface Window {
    __result?: unknown;
  }
}

window.__result = { backend: sy.backend(), error: String(sy.backendError() ?? ''), ...ringRoutes(sy) };
