// The page's config, rendered into index.html by `devkit site build`, and reading the
// API, which is on the page's own origin.

export const config = {
  peopleBoards: true, // an older build's config has no switch: people boards are on
  ...JSON.parse(document.getElementById("emojiboard-config").textContent),
};

// GET an API path with query parameters; JSON, or an error saying the status.
export async function getJson(path, params = {}) {
  const query = new URLSearchParams(params);
  const response = await fetch(`${path}?${query}`, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}
