// The minimal live leaderboard: first paint over HTTP, then WebSocket updates.
const config = JSON.parse(document.getElementById("emojiboard-config").textContent);
const WINDOW = "all";
const LIMIT = 50;
const PING_MS = 5 * 60 * 1000; // API Gateway closes sockets idle for 10 minutes

const counts = new Map();   // emoji -> count, for the shown window
const versions = new Map(); // emoji -> highest version applied
let snapshotParts = [];
let retryDelay = 1000;

const list = document.getElementById("leaderboard");
const empty = document.getElementById("empty");
const status = document.getElementById("status");

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function render() {
  const rows = [...counts].filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, LIMIT);
  // Names come from users: text nodes only, never innerHTML.
  list.replaceChildren(...rows.map(([emoji, n]) => {
    const item = document.createElement("li");
    item.dataset.emoji = emoji;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `:${emoji}:`;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = String(n);
    item.append(name, count);
    return item;
  }));
  empty.hidden = rows.length > 0;
}

function replaceBoard(rows) {
  counts.clear();
  for (const row of rows) counts.set(row.emoji, row.count);
  render();
}

async function firstPaint() {
  try {
    const response = await fetch(`${config.apiUrl}/api/leaderboard?window=${WINDOW}&limit=${LIMIT}`);
    if (response.ok) replaceBoard((await response.json()).leaderboard);
  } catch (error) {
    console.warn("leaderboard request failed", error);
  }
}

function onMessage(message) {
  if (message.type === "snapshot" && message.window === WINDOW) {
    if (!message.parts) return replaceBoard(message.leaderboard);
    if (message.part === 1) snapshotParts = [];
    snapshotParts.push(...message.leaderboard);
    if (message.part === message.parts) replaceBoard(snapshotParts);
  } else if (message.type === "update") {
    for (const change of message.changes) {
      if (change.window !== WINDOW) continue;
      if ((versions.get(change.emoji) ?? -1) > change.version) continue; // reordered
      versions.set(change.emoji, change.version);
      counts.set(change.emoji, change.count);
    }
    render();
  } else if (message.type === "error") {
    console.error("server:", message.message);
  }
}

function socketUrl() {
  if (config.wsUrl) return config.wsUrl;
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

function connect() {
  const socket = new WebSocket(socketUrl());
  let pinger;
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setStatus("live", "live");
    socket.send(JSON.stringify({ action: "snapshot", window: WINDOW, limit: LIMIT }));
    pinger = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), PING_MS);
  });
  socket.addEventListener("message", (event) => {
    try {
      onMessage(JSON.parse(event.data));
    } catch (error) {
      console.error("bad message", error);
    }
  });
  socket.addEventListener("close", () => {
    clearInterval(pinger);
    setStatus("reconnecting", "reconnecting…");
    const delay = retryDelay * (0.5 + Math.random()); // jitter spreads reconnects out
    retryDelay = Math.min(retryDelay * 2, 30000);
    setTimeout(connect, delay);
  });
}

firstPaint();
connect();
