// One emoji's trend as a bar chart (uPlot, vendored from npm by `devkit site build`).
// uPlot draws on a canvas and sets sizes through the CSSOM, which the page's CSP
// allows; its stylesheet ships as uplot.css. Colours come from the page's CSS
// variables, so light and dark follow the system; nothing animates.
import uPlot from "./uplot.js";

const HEIGHT = 260;
const dark = window.matchMedia("(prefers-color-scheme: dark)");
const FORMATS = {
  "24h": { hour: "2-digit", minute: "2-digit" },
  "30d": { weekday: "short", day: "numeric", month: "short" },
  "12m": { month: "long", year: "numeric" },
};
const SPANS = { "24h": "per hour over the last 24 hours", "30d": "per day over the last 30 days",
  "12m": "per month over the last 12 months" };

export class TrendChart {
  // container: where the canvas goes (role=img, labelled with a summary);
  // readout: a line of text saying the bar under the cursor, or the summary.
  constructor(container, readout) {
    Object.assign(this, { container, readout, plot: null, trend: null });
    new ResizeObserver(() => this.fit()).observe(container);
    dark.addEventListener("change", () => this.trend && this.draw());
  }

  show(trend) {
    this.trend = trend;
    this.draw();
  }

  clear() {
    this.trend = null;
    this.plot?.destroy();
    this.plot = null;
    this.readout.textContent = "";
  }

  fit() {
    const width = this.container.clientWidth;
    if (!this.trend || !width) return;
    if (!this.plot) this.draw();
    else if (this.plot.width !== width) this.plot.setSize({ width, height: HEIGHT });
  }

  draw() {
    this.plot?.destroy();
    this.plot = null;
    const { trend } = this;
    const when = new Intl.DateTimeFormat([], FORMATS[trend.window]);
    const xs = trend.points.map((point) => Date.parse(point.start) / 1000);
    const ys = trend.points.map((point) => point.count);
    this.summary = summarize(trend, when);
    this.container.setAttribute("aria-label", this.summary);
    this.readout.textContent = this.summary;
    const half = xs.length > 1 ? (xs[xs.length - 1] - xs[0]) / (xs.length - 1) / 2 : 1800;
    const width = this.container.clientWidth;
    if (!width) return; // hidden: fit() draws it once it has a size

    const css = getComputedStyle(document.documentElement);
    const colour = (name) => css.getPropertyValue(name).trim();
    const axis = {
      stroke: colour("--muted"), font: "12px system-ui, sans-serif",
      grid: { stroke: colour("--line"), width: 1 }, ticks: { stroke: colour("--line"), width: 1 },
    };
    this.plot = new uPlot({
      width, height: HEIGHT,
      legend: { show: false },
      cursor: { y: false, drag: { x: false, y: false }, points: { size: 7, fill: colour("--accent-2") } },
      scales: {
        // Half a bar of room at each end, or the first and last bars are cut in half.
        x: { time: true, range: (plot, min, max) => [min - half, max + half] },
        y: { range: (plot, min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] },
      },
      axes: [
        { ...axis, space: 60 },
        // Whole reactions only: no 0.5 ticks on a quiet emoji's axis.
        { ...axis, size: 44, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000],
          values: (plot, ticks) => ticks.map((tick) => tick.toLocaleString()) },
      ],
      series: [{}, {
        label: "reactions", stroke: colour("--accent-1"), fill: colour("--accent-1"), width: 0,
        paths: uPlot.paths.bars({ size: [0.7, 48], radius: 0.15 }), points: { show: false },
      }],
      hooks: {
        setCursor: [(plot) => {
          const index = plot.cursor.idx;
          this.readout.textContent = index == null ? this.summary
            : `${when.format(new Date(xs[index] * 1000))}: ${countWords(ys[index])}`;
        }],
      },
    }, [xs, ys], this.container);
  }
}

function countWords(count) {
  return `${count.toLocaleString()} ${count === 1 ? "reaction" : "reactions"}`;
}

function summarize(trend, when) {
  const name = trend.emoji ? `:${trend.emoji}:` : "all emoji";
  let peak = null;
  for (const point of trend.points) if (point.count > 0 && (!peak || point.count >= peak.count)) peak = point;
  const most = peak ? `, most ${countWords(peak.count)} (${when.format(new Date(peak.start))})` : "";
  return `Reactions with ${name} ${SPANS[trend.window]}: ${countWords(trend.total)} in all${most}.`;
}
