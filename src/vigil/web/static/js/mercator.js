// Web Mercator (EPSG:3857) as unit-square "world" coordinates: x, y in [0, 1], y down.
// At zoom z the world is 256 · 2^z pixels wide, as in the usual XYZ tile scheme.

const MAX_LAT = 85.05112878;
export const EARTH_CIRCUMFERENCE_M = 40075016.686;

/** [lon, lat] in degrees → [x, y] in the unit square. */
export function project(lon, lat) {
  const phi = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  return [(lon + 180) / 360, (1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2];
}

/** [x, y] in the unit square → [lon, lat] in degrees. */
export function unproject(x, y) {
  const lon = x * 360 - 180;
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI;
  return [lon, lat];
}

/** Metres per screen pixel at latitude `lat` and zoom `z`. */
export function metresPerPixel(lat, z) {
  return (EARTH_CIRCUMFERENCE_M * Math.cos((lat * Math.PI) / 180)) / (256 * 2 ** z);
}

/** Walk every [lon, lat] position of a GeoJSON geometry. */
export function eachPosition(geom, fn) {
  if (!geom) return;
  const walk = (c) => {
    if (typeof c[0] === "number") fn(c[0], c[1]);
    else for (const x of c) walk(x);
  };
  if (geom.type === "GeometryCollection") for (const g of geom.geometries || []) eachPosition(g, fn);
  else if (geom.coordinates) walk(geom.coordinates);
}

/** The bounding box [minLon, minLat, maxLon, maxLat] of points and geometries, or null when empty. */
export function bounds(points, geometries = []) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const add = (lon, lat) => {
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) return;
    b[0] = Math.min(b[0], lon); b[1] = Math.min(b[1], lat);
    b[2] = Math.max(b[2], lon); b[3] = Math.max(b[3], lat);
  };
  for (const [lon, lat] of points) add(lon, lat);
  for (const g of geometries) eachPosition(g, add);
  return Number.isFinite(b[0]) ? b : null;
}
