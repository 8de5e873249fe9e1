// The header's connection state and "updated … ago". It says "live" only while the
// socket is up and once a board has loaded; a board that cannot load says so rather
// than sit empty under "live".

const STATES = {
  connecting: "connecting…", live: "live", reconnecting: "reconnecting…", offline: "offline",
  trouble: "can't load the board: retrying…",
};

let connection = "connecting";
let trouble = false;
let everLoaded = false;

export function showState(state) {
  connection = state;
  draw();
}

export function showTrouble(value) {
  trouble = value;
  draw();
}

export function markLoaded() {
  if (everLoaded) return;
  everLoaded = true;
  draw();
}

function draw() {
  const up = connection === "live" || connection === "connecting";
  const state = trouble && up ? "trouble" : connection === "live" && !everLoaded ? "connecting" : connection;
  const status = document.getElementById("status");
  status.dataset.state = state;
  status.querySelector(".status-text").textContent = STATES[state];
}

// `at`: when the shown board's data last arrived (ms since the epoch), or null.
export function showUpdated(at) {
  const element = document.getElementById("last-update");
  if (!at) return;
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  element.dateTime = new Date(at).toISOString();
  element.title = new Date(at).toLocaleString();
  element.textContent = seconds < 5 ? "just now"
    : seconds < 60 ? `${seconds} s ago`
      : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago`
        : new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
