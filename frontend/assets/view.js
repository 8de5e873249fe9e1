// Render the leaders into the list: rows keep their elements across renders, glide
// to their new rank (FLIP) and flash when their count changes.
import { emojiElement, emojiKey } from "./emoji.js";

const numbers = new Intl.NumberFormat();
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const MOVE = { duration: 450, easing: "cubic-bezier(0.2, 0.8, 0.2, 1)" };

function span(className) {
  const element = document.createElement("span");
  element.className = className;
  return element;
}

function createRow(row) {
  const item = document.createElement("li");
  item.className = "row";
  item.dataset.emoji = row.emoji;
  const name = span("name");
  name.textContent = `:${row.emoji}:`;
  name.title = `:${row.emoji}:`;
  const bar = span("bar");
  bar.append(span("fill"));
  item.append(span("rank"), span("emoji-cell"), name, bar, span("count"));
  return item;
}

function fill(item, row, rank, leader) {
  item.querySelector(".rank").textContent = String(rank);
  item.dataset.rank = String(rank);
  const cell = item.querySelector(".emoji-cell");
  const key = emojiKey(row);
  if (cell.dataset.key !== key) {
    cell.dataset.key = key;
    cell.replaceChildren(emojiElement(row));
  }
  const count = item.querySelector(".count");
  const text = numbers.format(row.count);
  const changed = count.textContent !== "" && count.textContent !== text;
  count.textContent = text;
  item.dataset.count = String(row.count);
  item.style.setProperty("--share", String(leader > 0 ? row.count / leader : 0));
  if (changed) flash(item);
}

function flash(item) {
  item.classList.remove("flash");
  void item.offsetWidth; // restart the animation
  item.classList.add("flash");
}

export function render(list, rows) {
  const animate = !reducedMotion.matches && list.isConnected;
  const before = new Map();
  if (animate) {
    for (const item of list.children) before.set(item.dataset.emoji, item.getBoundingClientRect().top);
  }
  const existing = new Map([...list.children].map((item) => [item.dataset.emoji, item]));
  const leader = rows.length ? rows[0].count : 0;
  const items = rows.map((row, index) => {
    const item = existing.get(row.emoji) ?? createRow(row);
    existing.delete(row.emoji);
    fill(item, row, index + 1, leader);
    return item;
  });
  for (const gone of existing.values()) gone.remove();
  items.forEach((item, index) => {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  });
  if (!animate) return;
  for (const item of items) {
    const top = before.get(item.dataset.emoji);
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
