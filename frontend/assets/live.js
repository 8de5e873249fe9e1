// The dashboard's WebSocket, kept open for weeks on an office screen.
//
// API Gateway closes a socket after 10 idle minutes and any socket after 2 hours.
// A ping every minute keeps it busy and proves it alive (no pong: the socket is
// dead even if the browser has not noticed); before the 2 hours are up a second
// socket opens and takes over, so the board never shows a gap. A dropped socket
// is retried with exponential backoff and jitter, so a fleet of screens does not
// reconnect in lockstep after an outage.

const PING_EVERY_MS = 60_000;
const PONG_WITHIN_MS = 10_000;
const HANDOVER_AFTER_MS = 110 * 60_000; // API Gateway's hard limit is 120 minutes
const HANDOVER_OVERLAP_MS = 5_000;
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 30_000;
const OFFLINE_AFTER_MS = 30_000; // down this long (or the browser says so): "offline"

export class LiveSocket {
  // onOpen() runs for every new socket once `send` uses it (ask for snapshots there);
  // onMessage gets every parsed message; onState "live" | "reconnecting" | "offline".
  constructor(url, { onOpen, onMessage, onState }) {
    Object.assign(this, { url, onOpen, onMessage, onState });
    this.socket = null;
    this.attempt = 0;
    this.downSince = null;
    this.retryTimer = null;
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("offline", () => this.socket || this.setDown());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  start() {
    this.stopped = false;
    this.open();
  }

  // For good (signed out): no socket, no retries.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "signed out");
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    const timers = [];
    let opened = false;
    let pongDue = null;

    socket.addEventListener("open", () => {
      opened = true;
      const previous = this.socket;
      this.socket = socket;
      this.attempt = 0;
      this.downSince = null;
      this.onState("live");
      this.onOpen();
      if (previous) {
        // Handover: both sockets deliver for a moment (versions drop repeats).
        setTimeout(() => previous.close(1000, "replaced"), HANDOVER_OVERLAP_MS);
      }
      timers.push(setInterval(() => {
        socket.send(JSON.stringify({ action: "ping" }));
        pongDue ??= setTimeout(() => {
          // A dead connection may never finish a closing handshake: don't wait for one.
          this.lost(socket);
          socket.close(4000, "no pong");
        }, PONG_WITHIN_MS);
      }, PING_EVERY_MS));
      timers.push(setTimeout(() => this.open(), HANDOVER_AFTER_MS));
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        console.error("not JSON:", event.data);
        return;
      }
      if (message.type === "pong") {
        clearTimeout(pongDue);
        pongDue = null;
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", () => {
      timers.forEach((timer) => clearTimeout(timer)); // intervals too: one timer list
      clearTimeout(pongDue);
      if (opened) this.lost(socket);
      else if (!this.socket && !this.stopped) this.retryLater(); // a failed attempt (a failed handover keeps the old socket)
    });
  }

  // `socket` stopped serving: unless it was already replaced, go and get another.
  lost(socket) {
    if (this.socket !== socket || this.stopped) return;
    this.socket = null;
    this.retryLater();
  }

  retryLater() {
    this.setDown();
    this.scheduleRetry();
  }

  setDown() {
    this.downSince ??= Date.now();
    const offline = !navigator.onLine || Date.now() - this.downSince >= OFFLINE_AFTER_MS;
    this.onState(offline ? "offline" : "reconnecting");
  }

  scheduleRetry() {
    // "Equal jitter": half the backoff fixed, half random.
    const backoff = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** this.attempt);
    const delay = backoff / 2 + Math.random() * (backoff / 2);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delay);
    // Re-evaluate the shown state while waiting, so "offline" appears on time.
    setTimeout(() => this.socket || this.setDown(), Math.min(delay, OFFLINE_AFTER_MS));
  }

  retryNow() {
    if (!this.socket && this.retryTimer) this.open();
  }
}
