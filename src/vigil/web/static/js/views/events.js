// Placeholder until the capability's API lands.
import { h, message, mount } from "../dom.js";

export const regionAware = true;

/** Render the page. */
export async function render(el) {
  mount(el, h("h1", {}, "events"), message("Not available on this server yet."));
  return null;
}
