// What the page shows, as a plain object, and its round trip through the URL. No DOM:
// tested under Node. The URL is the state, so any view can be bookmarked and
// back/forward work:
//   ?view=emoji&window=7d                  the emoji board
//   ?view=emoji&channel=C1&window=30d      narrowed to a channel (or giver=U…, receiver=U…)
//   ?view=emoji&emoji=tada&trend=12m       one emoji's detail (its trend: 24h, 30d or 12m)
//   ?view=people&side=received&window=7d   the givers / receivers boards
//   ?view=channels | ?view=unused&window=all
//   &tv=1&views=emoji,givers,channels&rotate=20   TV mode (views rotate; one view: windows do)

export const WINDOWS = ["24h", "7d", "30d", "all"];
export const UNUSED_WINDOWS = ["30d", "all"]; // the server keeps no unused board for shorter ones
export const TREND_WINDOWS = ["24h", "30d", "12m"];
export const VIEWS = ["emoji", "people", "channels", "unused"];
export const FILTERS = ["channel", "giver", "receiver"];
const PERSON_FILTERS = ["giver", "receiver"];
// Slack ids as the server takes them as filters: C/G for channels, U/W for people.
const ID = { channel: /^[CG][A-Z0-9]{1,31}$/, giver: /^[UW][A-Z0-9]{1,31}$/, receiver: /^[UW][A-Z0-9]{1,31}$/ };
// Emoji names as Slack has them (chalicelib/names.py is stricter; the server says no).
const EMOJI_NAME = /^[^\s:]{1,100}$/u;
// TV's `views=` names, each a view of its own.
const TV_VIEWS = {
  emoji: { view: "emoji" }, givers: { view: "people", side: "given" },
  receivers: { view: "people", side: "received" }, people: { view: "people", side: "given" },
  channels: { view: "channels" }, unused: { view: "unused" },
};

// The state a query string asks for; anything unknown or turned off falls back to the
// default rather than failing (an old bookmark still opens something).
export function parseState(search, { peopleBoards = true } = {}) {
  const params = new URLSearchParams(search);
  let view = VIEWS.includes(params.get("view")) ? params.get("view") : "emoji";
  if (view === "people" && !peopleBoards) view = "emoji";
  const state = { view, window: windowFor(view, params.get("window")) };
  if (view === "people") state.side = params.get("side") === "received" ? "received" : "given";
  if (view === "emoji") {
    const emoji = params.get("emoji");
    if (emoji && EMOJI_NAME.test(emoji)) {
      state.emoji = emoji;
      state.trend = TREND_WINDOWS.includes(params.get("trend")) ? params.get("trend") : "30d";
    } else {
      // One filter at most, as the server takes; the first valid one wins.
      for (const kind of FILTERS) {
        const id = params.get(kind);
        if (!id || !ID[kind].test(id) || (!peopleBoards && PERSON_FILTERS.includes(kind))) continue;
        state.filter = { kind, id };
        break;
      }
    }
  }
  if (params.get("tv") === "1") {
    state.tv = true;
    state.rotate = Math.min(3600, Math.max(5, Number(params.get("rotate")) || 20));
    if (params.has("views")) state.views = params.get("views");
  }
  return state;
}

function windowFor(view, asked) {
  const allowed = view === "unused" ? UNUSED_WINDOWS : WINDOWS;
  if (allowed.includes(asked)) return asked;
  return view === "unused" ? "30d" : "24h";
}

// The query string of a state, in a fixed order (TV parameters only with `tv`).
export function toSearch(state, { tv = false } = {}) {
  const params = new URLSearchParams();
  params.set("view", state.view);
  if (state.view === "people") params.set("side", state.side ?? "given");
  if (state.filter) params.set(state.filter.kind, state.filter.id);
  if (state.emoji) {
    params.set("emoji", state.emoji);
    if (state.trend && state.trend !== "30d") params.set("trend", state.trend);
  } else {
    params.set("window", state.window);
  }
  if (tv && state.tv) {
    params.set("tv", "1");
    if (state.views) params.set("views", state.views);
    if (state.rotate && state.rotate !== 20) params.set("rotate", String(state.rotate));
  }
  return `?${params}`;
}

// A state moved to another view, window, filter or emoji, keeping what still applies:
// another view drops the filter and the emoji; a filter and an emoji exclude each other.
export function navigate(state, change) {
  const next = { ...state, ...change };
  if ("view" in change && change.view !== state.view) {
    if (!("filter" in change)) delete next.filter;
    if (!("emoji" in change)) delete next.emoji;
  }
  if (change.filter) delete next.emoji;
  if (change.emoji) delete next.filter;
  if (next.view === "people") next.side ??= "given";
  else delete next.side;
  if (next.view !== "emoji") { delete next.filter; delete next.emoji; }
  if (next.emoji) next.trend ??= "30d";
  else delete next.trend;
  for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
  next.window = windowFor(next.view, next.window);
  return next;
}

// The board a state shows: what the API and the socket are asked for. An emoji's
// detail watches the all-time emoji board: its row there is the emoji's all-time
// count, and its updates say when the emoji's trend changed.
export function boardOf(state) {
  if (state.view === "emoji" && state.emoji) return { board: "emoji", window: "all" };
  const board = { emoji: "emoji", channels: "channels", unused: "unused",
    people: state.side === "received" ? "receivers" : "givers" }[state.view];
  const spec = { board, window: state.window };
  if (board === "emoji" && state.filter) spec.filter = { ...state.filter };
  return spec;
}

// One string per view, the server's topic: `emoji/7d`, `emoji/24h/channel=C1`, `givers/all`.
export function topic(spec) {
  const base = `${spec.board}/${spec.window}`;
  return spec.filter ? `${base}/${spec.filter.kind}=${spec.filter.id}` : base;
}

// The view a snapshot or update message is about (its board, window and filter), as a
// topic; null for an earlier server's update, which names no window (it carries every
// window's changes of the emoji board).
export function topicOf(message) {
  if (!message.window) return null;
  const kind = FILTERS.find((name) => typeof message[name] === "string");
  return topic({ board: message.board ?? "emoji", window: message.window,
    filter: kind ? { kind, id: message[kind] } : undefined });
}

// The query parameters of a board request (HTTP) or the fields of a snapshot request.
export function requestFields(spec, limit) {
  const fields = { board: spec.board, window: spec.window, limit };
  if (spec.filter) fields[spec.filter.kind] = spec.filter.id;
  return fields;
}

// TV mode's steps: `views=` in order (unknown and turned-off names left out). One view
// rotates through its windows, as TV mode always has; several keep the window.
export function tvSteps(state, { peopleBoards = true } = {}) {
  const names = (state.views ?? "").split(",").map((name) => name.trim()).filter(Boolean);
  const picked = names.map((name) => TV_VIEWS[name])
    .filter((step) => step && (peopleBoards || step.view !== "people"));
  if (picked.length > 1) {
    return picked.map((step) => navigate(state, { ...step, filter: undefined, emoji: undefined }));
  }
  const only = picked[0] ?? { view: state.view, side: state.side };
  const windows = only.view === "unused" ? UNUSED_WINDOWS : WINDOWS;
  const start = Math.max(0, windows.indexOf(state.window));
  return [...windows.slice(start), ...windows.slice(0, start)]
    .map((window) => navigate(state, { ...only, emoji: undefined, window }));
}

const WINDOW_WORDS = {
  "24h": "in the last 24 hours", "7d": "in the last 7 days",
  "30d": "in the last 30 days", all: "all time",
};
const SHORT_WINDOW = { "24h": "24 hours", "7d": "7 days", "30d": "30 days", all: "all time" };

export function windowWords(window) {
  return WINDOW_WORDS[window];
}

// A view's title, for the page's <title> and TV mode: "Top emoji · 24 hours".
export function titleOf(state) {
  const what = state.view === "people"
    ? (state.side === "received" ? "Most reacted-to people" : "Top reaction givers")
    : { emoji: "Top emoji", channels: "Top channels", unused: "Unused custom emoji" }[state.view];
  return `${what} · ${SHORT_WINDOW[state.window]}`;
}
