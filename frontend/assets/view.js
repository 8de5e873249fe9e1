// Render a board's rows into the list: rows keep their elements across renders, glide
// to their new rank (FLIP) and flash when their count changes. Tied counts share a
// rank. A row's name links to what narrows to it (a person's or channel's emoji, an
// emoji's detail) when the page gives a link.
import { ranks } from "./board.js";
import { emojiElement, emojiKey } from "./emoji.js";
import { channelMark, faceElement, faceKey } from "./who.js";

const numbers = new Intl.NumberFormat();
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const MOVE = { duration: 450, easing: "cubic-bezier(0.2, 0.8, 0.2, 1)" };

// Per kind of row: its key, its name as shown, how its look is drawn and keyed.
const KINDS = {
  emoji: { key: "emoji", name: (row) => `:${row.emoji}:`, look: emojiElement, lookKey: emojiKey },
  unused: { key: "emoji", name: (row) => `:${row.emoji}:`, look: emojiElement, lookKey: emojiKey },
  person: { key: "user", name: (row) => row.name || row.user, look: faceElement, lookKey: faceKey },
  channel: { key: "channel", name: (row) => `#${row.name || row.channel}`, look: channelMark, lookKey: () => "#" },
};

function span(className) {
  const element = document.createElement("span");
  element.className = className;
  return element;
}

function createRow(key, href) {
  const item = document.createElement("li");
  item.className = "row";
  item.dataset.key = key;
  const name = document.createElement(href ? "a" : "span");
  name.className = "name";
  const bar = span("bar");
  bar.append(span("fill"));
  item.append(span("rank"), span("look"), name, bar, span("count"));
  return item;
}

function fill(item, row, kind, rank, leader, href) {
  const rankCell = item.querySelector(".rank");
  rankCell.textContent = rank ? String(rank) : "";
  if (rank) item.dataset.rank = String(rank);
  else delete item.dataset.rank;
  const look = item.querySelector(".look");
  const lookKey = kind.lookKey(row);
  if (look.dataset.key !== lookKey) {
    look.dataset.key = lookKey;
    look.replaceChildren(kind.look(row));
  }
  const name = item.querySelector(".name");
  const text = kind.name(row);
  if (name.textContent !== text) {
    name.textContent = text;
    name.title = text;
  }
  if (href && name.getAttribute("href") !== href) name.setAttribute("href", href);
  const count = item.querySelector(".count");
  const shown = numbers.format(row.count);
  const changed = count.textContent !== "" && count.textContent !== shown;
  count.textContent = shown;
  item.dataset.count = String(row.count);
  item.style.setProperty("--share", String(leader > 0 ? row.count / leader : 0));
  if (changed) flash(item);
}

function flash(item) {
  item.classList.remove("flash");
  void item.offsetWidth; // restart the animation
  item.classList.add("flash");
}

// rows: sorted as shown; kind: "emoji" | "unused" | "person" | "channel";
// link(row): the href its name links to, or null for plain text.
export function render(list, rows, { kind = "emoji", link = () => null } = {}) {
  const how = KINDS[kind];
  list.dataset.kind = kind;
  const animate = !reducedMotion.matches && list.isConnected;
  const before = new Map();
  if (animate) {
    for (const item of list.children) before.set(item.dataset.key, item.getBoundingClientRect().top);
  }
  const existing = new Map([...list.children].map((item) => [item.dataset.key, item]));
  const leader = rows.length ? rows[0].count : 0;
  const rankOf = kind === "unused" ? rows.map(() => null) : ranks(rows);
  const items = rows.map((row, index) => {
    const key = String(row[how.key]);
    const href = link(row);
    let item = existing.get(key);
    // A row whose name turns from text into a link (or back) is drawn anew.
    if (item && (item.querySelector(".name").tagName === "A") !== Boolean(href)) {
      item.remove();
      item = null;
    }
    item ??= createRow(key, href);
    existing.delete(key);
    fill(item, row, how, rankOf[index], leader, href);
    return item;
  });
  for (const gone of existing.values()) gone.remove();
  items.forEach((item, index) => {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  });
  if (!animate) return;
  for (const item of items) {
    const top = before.get(item.dataset.key);
    if (top === undefined) {
      item.animate([{ opacity: 0, transform: "scale(0.97)" }, { opacity: 1, transform: "none" }], MOVE);
      continue;
    }
    const dy = top - item.getBoundingClientRect().top;
    if (Math.abs(dy) > 0.5) {
      item.animate([{ transform: `translateY(${dy}px)` }, { transform: "none" }], MOVE);
    }
  }
}

export function formatCount(value) {
  return numbers.format(value);
}

// How a row of `kind` is drawn elsewhere (TV's ticker): its look and its name.
export function rowLook(kind, row) {
  return KINDS[kind].look(row);
}

export function rowName(kind, row) {
  return KINDS[kind].name(row);
}
