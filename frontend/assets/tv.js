// TV mode: a wall display. It rotates through its steps (views, or one view's
// windows), and beside the board shows a countdown to the next step, the date and
// time, a ticker of the latest reactions and a QR code that opens the shown view
// (without TV mode) on a phone.
import { drawQr } from "./qr.js";
import { rowLook, rowName } from "./view.js";

const TICKER_LENGTH = 7;
const $ = (id) => document.getElementById(id);
const time = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
const date = new Intl.DateTimeFormat([], { weekday: "long", day: "numeric", month: "long" });

export class TvMode {
  // steps: states to show in turn; onStep(state) shows one; urlOf(state) is its
  // address for a phone; titleOf(state) names it.
  constructor({ steps, rotateMs, onStep, urlOf, titleOf }) {
    Object.assign(this, { steps, rotateMs, onStep, urlOf, titleOf });
    this.index = 0;
    this.nextAt = 0;
    this.ticker = []; // newest first: {kind, row, at}
    this.pushes = 0;  // bumps with every push, so the ticker knows to redraw
  }

  start() {
    document.documentElement.classList.add("tv");
    $("tv-side").hidden = false;
    this.step(0);
    setInterval(() => this.step(this.index + 1), this.rotateMs);
    setInterval(() => this.tick(), 1000);
  }

  step(index) {
    this.index = index % this.steps.length;
    this.nextAt = Date.now() + this.rotateMs;
    const state = this.steps[this.index];
    this.onStep(state);
    const next = this.steps[(this.index + 1) % this.steps.length];
    $("tv-next-view").textContent = this.titleOf(next);
    drawQr($("qr"), this.urlOf(state));
    this.tick();
  }

  tick() {
    const now = new Date();
    $("tv-time").textContent = time.format(now);
    $("tv-time").dateTime = now.toISOString();
    $("tv-date").textContent = date.format(now);
    const left = Math.max(0, Math.ceil((this.nextAt - now.getTime()) / 1000));
    $("tv-countdown").textContent = `${left} s`;
    $("tv-progress").style.setProperty("--left", String(left * 1000 / this.rotateMs));
    this.drawTicker(now.getTime());
  }

  // Rows of `kind` whose count just went up, from an update of the shown view.
  push(kind, rows, at = Date.now()) {
    if (!rows.length) return;
    this.pushes += 1;
    this.ticker = [...rows.map((row) => ({ kind, row, at })).reverse(), ...this.ticker].slice(0, TICKER_LENGTH);
    this.drawTicker(at);
  }

  drawTicker(now) {
    const list = $("ticker");
    $("ticker-empty").hidden = this.ticker.length > 0;
    // Redraw only when the entries change; their ages update in place.
    const version = String(this.pushes);
    if (list.dataset.version !== version) {
      list.dataset.version = version;
      list.replaceChildren(...this.ticker.map(({ kind, row }) => {
        const item = document.createElement("li");
        const look = document.createElement("span");
        look.className = "look";
        look.append(rowLook(kind, row));
        const name = document.createElement("span");
        name.className = "ticker-name";
        name.textContent = rowName(kind, row);
        const when = document.createElement("span");
        when.className = "ticker-when";
        item.append(look, name, when);
        return item;
      }));
    }
    this.ticker.forEach(({ at }, index) => {
      const seconds = Math.max(0, Math.round((now - at) / 1000));
      list.children[index].querySelector(".ticker-when").textContent =
        seconds < 5 ? "now" : seconds < 60 ? `${seconds} s ago` : `${Math.floor(seconds / 60)} min ago`;
    });
  }
}
