// Finding the health capability's endpoints (KPIs, timeline, alarms, work orders) in the server's OpenAPI.
import { serverPaths } from "./api.js";

const BASE = "/api/v1";

/** {kpi, timeline, alarms, workorders, status, report}: API paths relative to /api/v1, or null where absent. */
export async function healthEndpoints() {
  const paths = [...(await serverPaths())].filter((p) => p.startsWith(`${BASE}/health/`) && !p.includes("{"));
  const find = (re) => {
    const p = paths.filter((x) => re.test(x)).sort((a, b) => a.length - b.length)[0];
    return p ? p.slice(BASE.length) : null;
  };
  return {
    kpi: find(/\/kpis?$/),
    timeline: find(/timeline$/),
    alarms: find(/\/alarms$/),
    workorders: find(/\/work[-_]?orders$/),
    status: find(/\/health\/status$/),
    report: find(/\/report\/daily$/),
  };
}
