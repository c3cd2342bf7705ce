// fnwm dashboard: the WebSocket to the manager. A token given as
// /?token=T is kept for this tab only (sessionStorage) and taken out of
// the address bar; it is sent the one way a browser can send it, in the
// query of the WebSocket's URL.
"use strict";

const TOKEN_KEY = "fnwm.token";

function takeToken() {
  const q = new URLSearchParams(location.search);
  if (q.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, q.get("token"));
    q.delete("token");
    const rest = q.toString();
    history.replaceState(null, "", location.pathname +
      (rest ? "?" + rest : "") + location.hash);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const TOKEN = takeToken();

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + "/" +
    (TOKEN ? "?token=" + encodeURIComponent(TOKEN) : "");
}

/**
 * One WebSocket with reconnects. onMessage gets every parsed message,
 * onOpen runs after each (re)connect, onState gets "open", "closed".
 */
class Conn {
  constructor({ onOpen, onMessage, onState, reconnect = true }) {
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.reconnect = reconnect;
    this.delay = 500;
    this.ws = null;
    this.closed = false;
    this.open();
  }

  open() {
    const ws = new WebSocket(wsUrl());
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.onState("open");
      this.onOpen(this);
    };
    ws.onmessage = (ev) => {
      let m;
      if (typeof ev.data !== "string") return;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return; // "pong" and other plain frames
      }
      this.onMessage(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.onState("closed", ev);
      if (this.closed || !this.reconnect) return;
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
    return true;
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
