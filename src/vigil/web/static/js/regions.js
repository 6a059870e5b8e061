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

const prefetched = new Set();

/** One request for the names of a whole subtree (the API matches `q` against code prefixes). */
async function prefetch(prefix) {
  if (prefetched.has(prefix)) return;
  prefetched.add(prefix);
  const res = await apiOptional("/regions", { query: { q: prefix, limit: 1000 } }).catch(() => null);
  for (const r of res?.items || []) names.set(r.code, r.name);
}

function commonPrefix(codes) {
  let p = codes[0] || "";
  for (const c of codes) while (!c.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/** Resolve many names at once; returns a Map code → name. */
export async function regionNames(codes) {
  const uniq = [...new Set(codes.filter(Boolean))];
  const unknown = uniq.filter((c) => !names.has(c));
  const prefix = commonPrefix(unknown);
  if (unknown.length > 3 && prefix.length >= 6) await prefetch(prefix);
  await Promise.all(uniq.map(regionName));
  return new Map(uniq.map((c) => [c, names.get(c) ?? null]));
}
