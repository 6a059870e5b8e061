// Region names by code, cached for the session (the API lists regions; names rarely change).
import { apiOptional } from "./api.js";

const names = new Map();
const pending = new Map();

/** Remember names already seen elsewhere (tree nodes, rollups). */
export function rememberRegion(code, name) {
  if (code && name) names.set(code, name);
}

/** The cached name of `code`, or null. */
export function regionNameNow(code) {
  return names.get(code) ?? null;
}

/** Resolve the name of one region (null if unknown or out of scope). */
export async function regionName(code) {
  if (!code) return null;
  if (names.has(code)) return names.get(code);
  if (!pending.has(code)) {
    pending.set(code, apiOptional(`/regions/${encodeURIComponent(code)}`).then((r) => {
      names.set(code, r?.name ?? null);
      return r?.name ?? null;
    }).catch(() => null).finally(() => pending.delete(code)));
  }
  return pending.get(code);
}

/** Resolve many names at once; returns a Map code → name. */
export async function regionNames(codes) {
  const uniq = [...new Set(codes.filter(Boolean))];
  await Promise.all(uniq.map(regionName));
  return new Map(uniq.map((c) => [c, names.get(c) ?? null]));
}
