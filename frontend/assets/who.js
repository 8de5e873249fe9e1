// How a person or a channel looks in a row: a face (the avatar, only from an
// http(s) URL, else initials on a colour picked by the id) or a channel's "#".
// Names come from Slack's users: only ever set as text.
import { safeImageUrl } from "./emoji.js";

// Enough contrast for white initials (4.5:1 or more) in both themes.
const COLOURS = ["#6d28d9", "#be185d", "#0f766e", "#1d4ed8", "#b45309", "#4d7c0f", "#9f1239", "#334155"];

export function initials(name) {
  const words = String(name ?? "").trim().split(/[\s._-]+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] ?? "?"];
  return letters.map((word) => [...word][0]).join("").toUpperCase() || "?";
}

function initialsElement(row) {
  const element = document.createElement("span");
  element.className = "face initials";
  element.textContent = initials(row.name ?? row.user);
  element.setAttribute("aria-hidden", "true"); // the name is right next to it
  let hash = 0;
  for (const char of String(row.user)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  element.style.setProperty("--face", COLOURS[hash % COLOURS.length]);
  return element;
}

export function faceElement(row) {
  const src = safeImageUrl(row.avatar_url);
  if (!src) return initialsElement(row);
  const image = document.createElement("img");
  image.className = "face";
  image.alt = ""; // decorative: the name is the row's text
  image.decoding = "async";
  image.referrerPolicy = "no-referrer";
  image.addEventListener("error", () => image.replaceWith(initialsElement(row)), { once: true });
  image.src = src;
  return image;
}

export function channelMark() {
  const element = document.createElement("span");
  element.className = "channel-mark";
  element.textContent = "#";
  element.setAttribute("aria-hidden", "true");
  return element;
}

export function faceKey(row) {
  return row.avatar_url ?? "";
}
