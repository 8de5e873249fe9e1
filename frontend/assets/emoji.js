// Draw one emoji as Slack shows it, from what the server sent with its row:
// a Unicode `glyph`, a custom emoji's `image_url`, or neither (a neutral badge).
// Names and URLs come from Slack and its users: they are only ever set as text or
// as a checked URL, never parsed as markup.

export function safeImageUrl(value) {
  if (typeof value !== "string" || value.length > 1024) return null;
  try {
    const url = new URL(value, document.baseURI);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

export function badge(name) {
  const element = document.createElement("span");
  element.className = "emoji badge";
  element.textContent = name;
  element.title = `:${name}:`;
  return element;
}

export function emojiElement(row) {
  if (typeof row.glyph === "string" && row.glyph) {
    const element = document.createElement("span");
    element.className = "emoji glyph";
    element.textContent = row.glyph;
    element.setAttribute("role", "img");
    element.setAttribute("aria-label", `:${row.emoji}:`);
    return element;
  }
  const src = safeImageUrl(row.image_url);
  if (!src) return badge(row.emoji);
  const image = document.createElement("img");
  image.className = "emoji image";
  image.alt = `:${row.emoji}:`;
  image.decoding = "async";
  image.referrerPolicy = "no-referrer";
  // A deleted or unreachable image turns into the badge, never a broken icon.
  image.addEventListener("error", () => image.replaceWith(badge(row.emoji)), { once: true });
  image.src = src;
  return image;
}

// What identifies the drawing, so a row redraws its emoji only when that changes.
export function emojiKey(row) {
  return `${row.glyph ?? ""}\u0000${row.image_url ?? ""}`;
}
