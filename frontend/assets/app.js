// The dashboard's wiring: the URL's state (views.js) onto the page, links and tabs
// back into the URL, the socket and the API into the shown board (feed.js), and TV mode.
import { config } from "./config.js";
import { EmojiDetail } from "./detail.js";
import { Feed } from "./feed.js";
import { Rising } from "./headline.js";
import { watchImport } from "./importing.js";
import { LiveSocket } from "./live.js";
import { showSignIn, showViewer, stillSignedIn, whoIsWatching } from "./session.js";
import { knownName, learn, nameOf } from "./names.js";
import { markLoaded, showState, showTrouble, showUpdated } from "./status.js";
import { markSelected, wireTabs } from "./tabs.js";
import { TvMode } from "./tv.js";
import { formatCount, render } from "./view.js";
import {
  boardOf, navigate, parseState, titleOf, toSearch, topic, tvSteps, UNUSED_WINDOWS, windowWords,
} from "./views.js";

// Before anything reads the URL: a screen link turns the page into TV mode.
const { viewer, error: signInError } = await whoIsWatching();

const $ = (id) => document.getElementById(id);
const list = $("leaderboard");
const windowTabs = [...document.querySelectorAll(".controls [role=tab]")];
const baseTitle = document.title;
let state = parseState(location.search, config);
const tv = Boolean(state.tv);
const shown = tv ? 10 : 50;
const looks = new Map(); // emoji -> a row that draws it, for a detail opened from a row

// The page's own origin: CloudFront (or the local gateway) carries /ws to the WebSocket API.
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const live = new LiveSocket(wsUrl, {
  onState(socketState) {
    showState(socketState);
    if (socketState !== "live" && viewer?.access === "slack") {
      stillSignedIn(viewer.kind).then((ok) => ok || live.stop());
    }
  },
  onOpen: () => feed.socketOpened(),
  onMessage: (message) => feed.handle(message),
});
const feed = new Feed(live, { onPaint: paint, onTrouble: showTrouble, onUpdate });
const detail = new EmojiDetail({
  onTrend(trend) {
    state = navigate(state, { trend });
    remember("replace");
  },
});
const rising = new Rising([$("rising"), $("tv-rising")], { link: (row) => (tv ? null : hrefOf({ emoji: row.emoji })) });

// ---- what a row is and where it leads -----------------------------------------

function kindOf(s) {
  return { emoji: "emoji", people: "person", channels: "channel", unused: "unused" }[s.view];
}

function hrefOf(change) {
  return toSearch(navigate(state, change));
}

// A person or a channel narrows the emoji board to them; an emoji opens its detail.
function linkFor(kind) {
  if (tv) return () => null;
  if (kind === "emoji") return (row) => hrefOf({ view: "emoji", emoji: row.emoji });
  if (kind === "channel") return (row) => hrefOf({ view: "emoji", filter: { kind: "channel", id: row.channel } });
  if (kind === "person") {
    const filter = state.side === "received" ? "receiver" : "giver";
    return (row) => hrefOf({ view: "emoji", filter: { kind: filter, id: row.user } });
  }
  return () => null;
}

function totalLabel(s, total) {
  const when = windowWords(s.window);
  if (s.view === "unused") {
    return `custom emoji ${s.window === "all" ? "never used" : `not used ${when}`}`;
  }
  const reactions = total === 1 ? "reaction" : "reactions";
  if (s.view === "people") return `${reactions} ${s.side === "received" ? "received" : "given"} ${when}`;
  if (s.view === "channels") return `${reactions} in public channels ${when}`;
  if (s.filter) return `${reactions} ${filterWords(s.filter, knownName(s.filter.id) ?? s.filter.id)} ${when}`;
  return `${reactions} ${when}`;
}

const EMPTY = {
  emoji: "No reactions in this window yet.", people: "No reactions in this window yet.",
  channels: "No reactions in public channels in this window yet.",
  unused: "Every custom emoji was used in this window.",
};

function filterWords(filter, name) {
  return { channel: `in #${name}`, giver: `given by ${name}`, receiver: `received by ${name}` }[filter.kind];
}

// ---- the page -------------------------------------------------------------------

function paint() {
  const board = feed.board;
  if (!board) return;
  if (board.loaded) markLoaded();
  showUpdated(board.updatedAt);
  if (state.emoji) {
    if (board.loaded) detail.setRow(board.rows.get(state.emoji) ?? null, board.complete);
    return;
  }
  const kind = kindOf(state);
  const rows = board.top(shown);
  learn(rows);
  if (kind === "emoji") for (const row of rows) looks.set(row.emoji, row);
  render(list, rows, { kind, link: linkFor(kind) });
  const { total, size } = board;
  if (total !== null) $("total").textContent = formatCount(total);
  else if (!board.loaded) $("total").textContent = "–";
  $("total-label").textContent = totalLabel(state, total);
  $("empty").textContent = EMPTY[state.view];
  $("empty").hidden = !board.loaded || rows.length > 0;
  const more = size !== null ? size - rows.length : 0;
  $("more").hidden = !board.loaded || more <= 0;
  $("more").textContent = `+${formatCount(more)} more`;
  document.body.dataset.loaded = String(board.loaded);
}

function onUpdate(message, risen) {
  if (state.emoji && (message.changes ?? []).some((change) => change.emoji === state.emoji)) detail.refreshSoon();
  if (state.view === "emoji") rising.poke();
  tvMode?.push(kindOf(state), risen);
}

// Put the state on the page, and show its board (asked afresh if it is another view).
function show({ focusTab = false } = {}) {
  const title = state.emoji ? `:${state.emoji}:` : titleOf(state);
  document.title = `${title} · ${baseTitle}`;
  $("view-title").textContent = title;
  for (const link of document.querySelectorAll(".views a")) {
    if (link.dataset.view === state.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    link.href = hrefOf({ view: link.dataset.view, filter: undefined, emoji: undefined });
  }
  const sides = document.querySelector(".sides");
  if (sides) {
    sides.hidden = state.view !== "people";
    for (const link of sides.querySelectorAll("a")) {
      if (link.dataset.side === state.side) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
      link.href = hrefOf({ view: "people", side: link.dataset.side });
    }
  }
  document.querySelector(".controls .tabs").hidden = Boolean(state.emoji);
  for (const tab of windowTabs) {
    tab.hidden = state.view === "unused" && !UNUSED_WINDOWS.includes(tab.dataset.window);
  }
  markSelected(windowTabs, windowTabs.find((tab) => tab.dataset.window === state.window), { focus: focusTab });
  $("board").setAttribute("aria-labelledby", `tab-${state.window}`);
  showFilter();

  $("board").hidden = Boolean(state.emoji);
  $("detail").hidden = !state.emoji;
  if (state.emoji) {
    $("detail-back").href = hrefOf({ emoji: undefined });
    detail.open(state.emoji, state.trend, looks.get(state.emoji));
  } else {
    detail.close();
  }
  rising.show(state.view === "emoji" && !state.filter && !state.emoji);

  const spec = boardOf(state);
  if (topic(spec) !== feed.current) {
    list.replaceChildren(); // a new view is a new board, not a reshuffle of this one
    showTrouble(false);     // this board's own requests say whether it loads
    feed.show(spec);
  }
  paint();
}

function showFilter() {
  const { filter } = state;
  $("filter").hidden = !filter || tv;
  if (!filter) return;
  $("filter-clear").href = hrefOf({ filter: undefined });
  const words = () => filterWords(filter, knownName(filter.id) ?? filter.id);
  $("filter-text").textContent = words();
  if (tv) $("view-title").textContent = `${titleOf(state)} ${words()}`;
  if (knownName(filter.id)) return;
  nameOf(filter.kind, filter.id).then(() => {
    if (state.filter?.id !== filter.id) return;
    $("filter-text").textContent = words();
    if (tv) $("view-title").textContent = `${titleOf(state)} ${words()}`;
    paint();
  });
}

// ---- navigation: links and tabs change the URL; back and forward change the page ---

function remember(how) {
  if (tv) return; // a wall screen's URL stays what was set up
  const url = new URL(location.href);
  url.search = toSearch(state);
  if (url.href === location.href) return;
  if (how === "push") history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function go(next, { how = "push", focusTab = false } = {}) {
  state = next;
  remember(how);
  show({ focusTab });
}

// Every same-page link (views, people's sides, rows, the chip, "All emoji") is a plain
// link, so it can be opened in a new tab or bookmarked; a plain click stays on the page.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='?']");
  if (!link || event.defaultPrevented || event.button !== 0
      || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go(parseState(link.getAttribute("href"), config));
});

window.addEventListener("popstate", () => {
  state = parseState(location.search, config);
  show();
});

wireTabs(windowTabs, (tab, { focus }) => {
  go(navigate(state, { window: tab.dataset.window }), { how: "replace", focusTab: focus });
});

// ---- TV mode: a wall display rotating through views ------------------------------

const tvMode = tv ? new TvMode({
  steps: tvSteps(state, config),
  rotateMs: state.rotate * 1000,
  onStep(step) {
    state = step;
    show();
  },
  urlOf(step) {
    const url = new URL(location.href);
    url.search = toSearch(step); // the same view, without TV mode
    url.hash = "";
    return url.href;
  },
  titleOf: (step) => titleOf(step),
}) : null;

if (viewer) start();
else showSignIn(signInError);

function start() {
  showViewer(viewer);
  setInterval(() => showUpdated(feed.board?.updatedAt), 1000);
  if (tvMode) {
    $("view-title").hidden = false;
    document.querySelector(".tv-clock").hidden = false;
    tvMode.start();
  } else {
    if (location.search) remember("replace"); // tidy a hand-written URL into its canonical form
    show();
  }
  live.start();
  watchImport($("importing"));
}
