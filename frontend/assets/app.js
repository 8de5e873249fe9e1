// The dashboard: window tabs, TV mode, the connection state, and the wiring from
// the API and the WebSocket into boards (board.js) and onto the page (view.js).
import { Board, SnapshotParts } from "./board.js";
import { LiveSocket } from "./live.js";
import { formatCount, render } from "./view.js";

const config = JSON.parse(document.getElementById("emojiboard-config").textContent);
const WINDOWS = ["24h", "7d", "30d", "all"];
const LABELS = {
  "24h": "in the last 24 hours", "7d": "in the last 7 days",
  "30d": "in the last 30 days", all: "all time",
};
const STATES = {
  connecting: "connecting…", live: "live", reconnecting: "reconnecting…", offline: "offline",
  trouble: "can't load the board: retrying…",
};
// Ask for the whole board (the API's maximum), so the total stays exact; show the top.
const SNAPSHOT_LIMIT = 500;
const SNAPSHOT_RETRY_MS = 3_000;
// A snapshot the socket has not answered by then (a lost message: the server answers
// every request, an error included) is asked for again, and the header says so.
const SNAPSHOT_TIMEOUT_MS = 30_000;

const params = new URLSearchParams(location.search);
const tv = params.get("tv") === "1";
const shown = tv ? 10 : 50;
const rotateMs = Math.min(3600, Math.max(5, Number(params.get("rotate")) || 20)) * 1000;

const $ = (id) => document.getElementById(id);
const list = $("leaderboard");
const tabs = [...document.querySelectorAll("[role=tab]")];
const boards = new Map(); // window -> Board, kept live once loaded
const parts = new SnapshotParts();
let current = WINDOWS.includes(params.get("window")) ? params.get("window") : "24h";

function boardFor(window) {
  if (!boards.has(window)) boards.set(window, new Board(window));
  return boards.get(window);
}

// ---- snapshots: over the socket when it is open, else over HTTP ------------

const live = new LiveSocket(config.wsUrl, {
  onState: showState,
  onOpen() {
    // Whatever happened while we were away, a fresh snapshot makes it exact.
    for (const window of boards.keys()) if (window !== current) boards.delete(window);
    askSocket(current);
  },
  onMessage,
});

function askSocket(window) {
  const board = boardFor(window);
  const seq = board.requestSnapshot();
  live.send({ action: "snapshot", window, limit: SNAPSHOT_LIMIT });
  setTimeout(() => {
    if (board.seq !== seq || !board.pending) return;
    if (window === current) showTrouble(true);
    load(window);
  }, SNAPSHOT_TIMEOUT_MS);
}

async function askHttp(window) {
  const board = boardFor(window);
  const seq = board.requestSnapshot();
  const url = `${config.apiUrl}/api/leaderboard?window=${window}&limit=${SNAPSHOT_LIMIT}`;
  try {
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const message = await response.json();
    // Only if no newer request (say, over the socket once it opened) is in flight.
    if (seq === board.seq) applySnapshot(message);
  } catch (error) {
    console.warn("leaderboard request failed:", error);
    if (seq === board.seq && window === current) showTrouble(true);
    if (seq === board.seq) setTimeout(() => board.seq === seq && load(window), SNAPSHOT_RETRY_MS);
  }
}

function load(window) {
  if (live.socket) askSocket(window);
  else askHttp(window);
}

function applySnapshot(message) {
  const board = boards.get(message.window);
  if (!board) return;
  board.applySnapshot(message, SNAPSHOT_LIMIT);
  if (message.window === current) {
    everLoaded = true;
    showTrouble(false);
    paint();
  }
}

let resnapshotTimer = null;
function onMessage(message) {
  if (message.type === "snapshot") {
    const whole = parts.add(message);
    if (whole) applySnapshot(whole);
  } else if (message.type === "update") {
    for (const board of boards.values()) {
      for (const change of message.changes) board.applyChange(change);
    }
    const board = boards.get(current);
    if (board?.loaded && board.total === null && !resnapshotTimer) {
      // An emoji beyond the snapshot's cut: only a fresh snapshot gives the exact total.
      resnapshotTimer = setTimeout(() => { resnapshotTimer = null; load(current); }, 1000);
    }
    paint();
  } else if (message.type === "error") {
    // Most likely a snapshot the store could not serve: say so, ask again shortly.
    console.warn("server:", message.message);
    const window = current;
    if (boards.get(window)?.pending) showTrouble(true);
    setTimeout(() => boards.get(window)?.pending && load(window), SNAPSHOT_RETRY_MS);
  }
}

// ---- the page ---------------------------------------------------------------

function paint() {
  const board = boardFor(current);
  const rows = board.top(shown);
  render(list, rows);
  const total = board.total;
  if (total !== null) $("total").textContent = formatCount(total);
  else if (!board.loaded) $("total").textContent = "–";
  $("total-label").textContent = `${total === 1 ? "reaction" : "reactions"} ${LABELS[current]}`;
  $("empty").hidden = !board.loaded || rows.length > 0;
  document.body.dataset.loaded = String(board.loaded);
  showUpdated();
}

// The header says "live" only while the socket is up and once a board has loaded;
// a board that cannot load says so rather than sit empty under "live".
let connection = "connecting";
let trouble = false;
let everLoaded = false;

function showState(state) {
  connection = state;
  showStatus();
}

function showTrouble(value) {
  trouble = value;
  showStatus();
}

function showStatus() {
  const up = connection === "live" || connection === "connecting";
  const state = trouble && up ? "trouble" : connection === "live" && !everLoaded ? "connecting" : connection;
  const status = $("status");
  status.dataset.state = state;
  status.querySelector(".status-text").textContent = STATES[state];
}

function showUpdated() {
  const at = boards.get(current)?.updatedAt;
  const element = $("last-update");
  if (!at) return;
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  element.dateTime = new Date(at).toISOString();
  element.title = new Date(at).toLocaleString();
  element.textContent = seconds < 5 ? "just now"
    : seconds < 60 ? `${seconds} s ago`
      : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago`
        : new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function select(window, { focus = false, remember = true } = {}) {
  current = window;
  for (const tab of tabs) {
    const selected = tab.dataset.window === window;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  $("board").setAttribute("aria-labelledby", `tab-${window}`);
  if (remember) {
    const url = new URL(location.href);
    url.searchParams.set("window", window);
    history.replaceState(null, "", url);
  }
  list.replaceChildren(); // a new window is a new board, not a reshuffle of this one
  showTrouble(false); // this board's own requests say whether it loads
  const board = boardFor(window);
  if (!board.loaded && !board.pending) load(window);
  paint();
}

// Tabs as WAI-ARIA describes them: arrows, Home and End move and select.
for (const tab of tabs) {
  tab.addEventListener("click", () => select(tab.dataset.window));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length].dataset.window, { focus: true });
  });
}

// TV mode: big type, the top ten, and the windows in turn.
if (tv) {
  document.documentElement.classList.add("tv");
  document.documentElement.style.setProperty("--rotate", `${rotateMs}ms`);
  setInterval(() => {
    const next = WINDOWS[(WINDOWS.indexOf(current) + 1) % WINDOWS.length];
    select(next, { remember: false });
    const bar = document.querySelector(".rotation");
    bar.classList.remove("running");
    void bar.offsetWidth; // restart the progress animation
    bar.classList.add("running");
  }, rotateMs);
  document.querySelector(".rotation").classList.add("running");
}

setInterval(showUpdated, 1000);
select(current, { remember: false });
live.start();
