// Loading map data from the API: region outlines, site polygons, camera points and the deployment's tile URL.
import { api, apiOptional, hasApi, serverPaths } from "./api.js";

const PAGE = 500;
let configPromise = null;

/** The console config ({tile_url, ...}); {} when the server has none. */
export function consoleConfig() {
  if (!configPromise) {
    configPromise = serverPaths()
      .then((paths) => (paths.has("/api/v1/config") ? apiOptional("/config", {}, {}) : {}))
      .catch(() => ({}));
  }
  return configPromise;
}

/** Fetch a paged list endpoint up to `max` items. Returns {items, total}. */
export async function fetchPaged(path, query, { max = 5000, signal } = {}) {
  const items = [];
  let total = null;
  for (let offset = 0; offset < max; offset += PAGE) {
    const page = await api(path, { query: { ...query, limit: Math.min(PAGE, max - offset), offset }, signal });
    items.push(...page.items);
    total = page.total ?? items.length;
    if (page.items.length === 0 || items.length >= total) break;
  }
  return { items, total };
}

/** Sites of a region with their geometry, as {items, total}: the map's base layer in one answer, which the
 *  browser keeps and revalidates (ETag), so an unchanged layer is not sent again. */
export async function loadSites(region, { signal } = {}) {
  const fc = await api("/sites/geojson", { query: { region }, signal });
  const items = (fc.features || []).map((f) => ({ ...f.properties, id: f.properties?.id ?? f.id, geometry: f.geometry }));
  return { items, total: items.length };
}

/** Camera points of a region (optionally in a bbox) as flat objects {id, lon, lat, ...properties}. */
export async function loadCameraPoints(region, { bbox = null, limit = 5000, signal } = {}) {
  const fc = await api("/cameras/geojson", {
    query: { region, bbox: bbox ? bbox.map((v) => v.toFixed(6)).join(",") : null, limit }, signal,
  });
  const cams = (fc.features || []).filter((f) => f.geometry?.type === "Point").map((f) => ({
    ...f.properties, id: f.properties?.id ?? f.id,
    lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
  }));
  const total = fc.total ?? fc.properties?.total ?? fc.numberMatched ?? null;
  return { cameras: cams, total, truncated: cams.length >= limit || (total !== null && total > cams.length) };
}

/** Region outline features of a region's subtree (with `ancestors`, also those above it), as GeoJSON features:
 *  one answer with an ETag, like the sites. An older server without the layer gives none. */
export async function loadRegionOutlines(region, { ancestors = false, signal } = {}) {
  if (!(await hasApi("/api/v1/regions/geojson"))) return [];
  const fc = await api("/regions/geojson", { query: { region, ancestors: ancestors || null }, signal });
  return fc.features || [];
}
