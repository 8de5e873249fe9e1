// The shown board, kept exact: the first paint over HTTP, then a snapshot over the
// socket, which also subscribes this page to that view (the server sends a page the
// updates of the view it last asked a snapshot of, and no other). So a view left
// behind goes stale at once: its board is dropped, and showing it again asks again.

import { Board, SnapshotParts } from "./board.js";
import { getJson } from "./config.js";
import { requestFields, topic, topicOf } from "./views.js";

// Ask for the whole board (the API's maximum), so the total stays exact; show the top.
export const SNAPSHOT_LIMIT = 500;
const SNAPSHOT_RETRY_MS = 3_000;
// A snapshot the socket has not answered by then (a lost message: the server answers
// every request, an error included) is asked for again, and the header says so.
const SNAPSHOT_TIMEOUT_MS = 30_000;
const RESNAPSHOT_AFTER_MS = 1_000;

export class Feed {
  // onPaint(): the shown board changed; onTrouble(bool): whether it fails to load;
  // onUpdate(message, risen): an update of the shown view was applied, `risen` its
  // changes whose count went up.
  constructor(live, { onPaint, onTrouble, onUpdate }) {
    Object.assign(this, { live, onPaint, onTrouble, onUpdate });
    this.boards = new Map(); // topic -> Board
    this.spec = null;        // the shown view: {board, window, filter?}
    this.current = null;     // its topic
    this.parts = new SnapshotParts((message) => topicOf(message) ?? message.window);
    this.resnapshotTimer = null;
  }

  get board() {
    return this.boards.get(this.current) ?? null;
  }

  // Show a view: from now on only its updates apply, and it is asked for afresh.
  show(spec) {
    this.spec = spec;
    this.current = topic(spec);
    for (const key of this.boards.keys()) if (key !== this.current) this.boards.delete(key);
    if (!this.boards.has(this.current)) this.boards.set(this.current, new Board(spec.window, spec.board));
    this.load(spec);
    return this.board;
  }

  // A new socket (first, reconnected, or a handover): whatever happened while no socket
  // was subscribed, a snapshot on it makes the shown board exact and subscribes it.
  socketOpened() {
    if (this.spec) this.askSocket(this.spec);
  }

  load(spec) {
    if (this.live.socket) this.askSocket(spec);
    else this.askHttp(spec);
  }

  askSocket(spec) {
    const board = this.boards.get(topic(spec));
    if (!board) return;
    const seq = board.requestSnapshot();
    this.live.send({ action: "snapshot", ...requestFields(spec, SNAPSHOT_LIMIT) });
    setTimeout(() => {
      if (board.seq !== seq || !board.pending || this.board !== board) return;
      this.onTrouble(true);
      this.load(spec);
    }, SNAPSHOT_TIMEOUT_MS);
  }

  async askHttp(spec) {
    const board = this.boards.get(topic(spec));
    if (!board) return;
    const seq = board.requestSnapshot();
    try {
      const message = await getJson("/api/leaderboard", requestFields(spec, SNAPSHOT_LIMIT));
      // Only if no newer request (say, over the socket once it opened) is in flight.
      if (seq === board.seq) this.applySnapshot(board, message);
    } catch (error) {
      console.warn("leaderboard request failed:", error);
      if (seq !== board.seq || this.board !== board) return;
      this.onTrouble(true);
      setTimeout(() => board.seq === seq && this.board === board && this.load(spec), SNAPSHOT_RETRY_MS);
    }
  }

  applySnapshot(board, message) {
    board.applySnapshot(message, SNAPSHOT_LIMIT);
    if (board === this.board) {
      this.onTrouble(false);
      this.onPaint();
    }
  }

  handle(message) {
    if (message.type === "snapshot") {
      const whole = this.parts.add(message);
      const board = whole && this.boards.get(topicOf(whole));
      if (board) this.applySnapshot(board, whole);
    } else if (message.type === "update") {
      this.applyUpdate(message);
    } else if (message.type === "error") {
      // Most likely a snapshot the store could not serve: say so, ask again shortly.
      console.warn("server:", message.message);
      const { board, spec } = this;
      if (board?.pending) this.onTrouble(true);
      setTimeout(() => board?.pending && this.board === board && this.load(spec), SNAPSHOT_RETRY_MS);
    }
  }

  applyUpdate(message) {
    const board = this.board;
    if (!board) return;
    const key = topicOf(message);
    // An earlier server's update names no window and carries every window's changes of
    // the whole emoji board; Board.applyChange keeps those of its own window.
    const everyWindow = key === null && (message.board ?? "emoji") === "emoji"
      && this.spec.board === "emoji" && !this.spec.filter;
    if (key !== this.current && !everyWindow) return;
    const risen = [];
    for (const change of message.changes ?? []) {
      const before = board.countOf(change[board.key]) ?? 0;
      if (board.applyChange(change) && change.count > before) risen.push(change);
    }
    if (board.loaded && board.total === null && !this.resnapshotTimer) {
      // A key beyond the snapshot's cut: only a fresh snapshot gives the exact total.
      this.resnapshotTimer = setTimeout(() => {
        this.resnapshotTimer = null;
        if (this.board === board) this.load(this.spec);
      }, RESNAPSHOT_AFTER_MS);
    }
    this.onUpdate(message, risen);
    this.onPaint();
  }
}
