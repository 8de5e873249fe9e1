// "Rising now" over the emoji board (and beside it in TV mode): risingNow() over the
// 24h and 30d emoji boards, fetched over HTTP when shown and, while updates arrive,
// at most every 30 s.
import { getJson } from "./config.js";
import { emojiElement } from "./emoji.js";
import { risingNow } from "./rising.js";

const REFRESH_MS = 30_000;

export class Rising {
  // sections: where to draw (each holds an <ol>); link(row): an emoji's detail, or null.
  constructor(sections, { link }) {
    Object.assign(this, { sections, link });
    this.rows = [];
    this.active = false;
    this.fetchedAt = 0;
    this.timer = null;
  }

  show(active) {
    this.active = active;
    if (active && Date.now() - this.fetchedAt >= REFRESH_MS) this.refresh();
    this.draw();
  }

  // An update arrived: the standings moved. Refresh, but not more than every 30 s.
  poke() {
    if (this.timer || !this.active) return;
    const wait = Math.max(0, this.fetchedAt + REFRESH_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.active) this.refresh();
    }, wait);
  }

  async refresh() {
    this.fetchedAt = Date.now();
    try {
      const [day, month] = await Promise.all(["24h", "30d"].map(
        (window) => getJson("/api/leaderboard", { board: "emoji", window, limit: 500 })));
      this.rows = risingNow(day.leaderboard, month.leaderboard);
    } catch (error) {
      console.warn("rising now: request failed:", error);
    }
    this.draw();
  }

  draw() {
    for (const section of this.sections) {
      section.hidden = !this.active || this.rows.length === 0;
      section.querySelector("ol").replaceChildren(...this.rows.map((row) => this.item(row)));
    }
  }

  item(row) {
    const item = document.createElement("li");
    const href = this.link(row);
    const target = document.createElement(href ? "a" : "span");
    target.className = "rising-item";
    if (href) target.href = href;
    const name = document.createElement("span");
    name.className = "rising-name";
    name.textContent = `:${row.emoji}:`;
    const how = document.createElement("span");
    how.className = "rising-how";
    const ratio = row.ratio >= 10 ? Math.round(row.ratio) : Math.round(row.ratio * 10) / 10;
    how.textContent = `${row.count24h.toLocaleString()} in 24 h · ${ratio}× usual`;
    target.append(emojiElement(row), name, how);
    item.append(target);
    return item;
  }
}
