// A quiet line while the workspace's history is being imported (GET /api/history):
// asked once on load, then every few seconds while an import runs; hidden otherwise.
// The imported counts themselves reach the board as live updates, like any others.
import { getJson } from "./config.js";

const POLL_MS = 5000;

export function progressText(status) {
  const since = new Date(`${status.oldest}T00:00:00Z`).toLocaleDateString([], {
    day: "numeric", month: "short", timeZone: "UTC",
  });
  const channels = status.channels_total
    ? `${status.channels_done} of ${status.channels_total} channels`
    : "finding channels";
  const reactions = status.reactions_imported.toLocaleString();
  return `Importing history since ${since}: ${channels}, ${reactions} reactions so far`;
}

export function watchImport(element, { poll = POLL_MS } = {}) {
  async function check() {
    let status;
    try {
      status = await getJson("/api/history");
    } catch {
      status = null; // an older API or a hiccup: say nothing, ask again later
    }
    const running = status?.state === "running";
    element.hidden = !running;
    if (running) element.textContent = progressText(status);
    if (running || status === null) setTimeout(check, poll);
  }
  check();
}
