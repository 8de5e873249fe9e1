// One emoji's detail: how it looks, its totals per window and its trend chart (24 h,
// 30 days, 12 months from GET /api/trend). The page watches the all-time emoji board
// meanwhile (feed.js): its row gives the all-time count, and each update of this
// emoji refetches the trend, debounced so a burst of reactions costs one request.
import { TrendChart } from "./chart.js";
import { getJson } from "./config.js";
import { emojiElement, emojiKey } from "./emoji.js";
import { markSelected, wireTabs } from "./tabs.js";
import { formatCount } from "./view.js";

const REFRESH_AFTER_MS = 1_500;
const $ = (id) => document.getElementById(id);

export class EmojiDetail {
  // onTrend(window): the reader picked another trend window (for the URL).
  constructor({ onTrend }) {
    this.tabs = [...document.querySelectorAll("#detail [role=tab]")];
    this.chart = new TrendChart($("chart"), $("chart-readout"));
    this.name = null;
    this.trends = {};   // window -> the API's answer
    this.seq = 0;       // a refetch that an older one overtakes is dropped
    this.timer = null;
    wireTabs(this.tabs, (tab, { focus }) => {
      this.selectTrend(tab.dataset.trend, { focus });
      onTrend(tab.dataset.trend);
    });
  }

  // Show emoji `name` with the trend of `window`; `row`, when known, draws its look.
  open(name, window, row = null) {
    const fresh = name !== this.name;
    this.name = name;
    if (fresh) {
      this.trends = {};
      this.chart.clear();
      $("detail-name").textContent = `:${name}:`;
      $("detail-look").replaceChildren();
      $("detail-look").dataset.key = "";
      for (const id of ["detail-24h", "detail-7d", "detail-30d", "detail-all"]) $(id).textContent = "–";
      this.fetch();
    }
    if (row) this.setRow(row);
    this.selectTrend(window);
  }

  close() {
    this.name = null;
    clearTimeout(this.timer);
    this.chart.clear();
  }

  // The emoji's row on the all-time board (or null when it has none: never used, or
  // beyond a cut board: `known` says whether its absence means zero).
  setRow(row, known = true) {
    if (row && $("detail-look").dataset.key !== emojiKey(row)) {
      $("detail-look").dataset.key = emojiKey(row);
      $("detail-look").replaceChildren(emojiElement(row));
    } else if (!row && !$("detail-look").firstChild) {
      $("detail-look").replaceChildren(emojiElement({ emoji: this.name }));
    }
    $("detail-all").textContent = row ? formatCount(row.count) : known ? "0" : "–";
  }

  selectTrend(window, { focus = false } = {}) {
    this.window = window;
    markSelected(this.tabs, this.tabs.find((tab) => tab.dataset.trend === window), { focus });
    $("trend-panel").setAttribute("aria-labelledby", `trend-${window}`);
    if (this.trends[window]) this.chart.show(this.trends[window]);
  }

  // An update named this emoji: its trend changed.
  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(), REFRESH_AFTER_MS);
  }

  async fetch() {
    const { name } = this;
    const seq = ++this.seq;
    try {
      const answers = await Promise.all(["24h", "30d", "12m"].map(
        (window) => getJson("/api/trend", { window, emoji: name })));
      if (seq !== this.seq || name !== this.name) return;
      for (const answer of answers) this.trends[answer.window] = answer;
      const [day, month] = answers;
      $("detail-24h").textContent = formatCount(day.total);
      // 7 days are the last 7 of the 30 daily points (the windows are made of the same days).
      $("detail-7d").textContent = formatCount(month.points.slice(-7).reduce((sum, p) => sum + p.count, 0));
      $("detail-30d").textContent = formatCount(month.total);
      this.chart.show(this.trends[this.window]);
    } catch (error) {
      console.warn("trend request failed:", error);
      if (seq === this.seq) $("chart-readout").textContent = "Can't load the trend right now; retrying…";
      if (seq === this.seq) this.timer = setTimeout(() => this.fetch(), 5_000);
    }
  }
}
