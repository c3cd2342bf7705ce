// fnwm dashboard: small helpers shared by the other scripts.
"use strict";

const $ = (id) => document.getElementById(id);

/** Seconds as "3d 4h", "2h 5m", "4m 10s", "12s". */
function fmtDuration(s) {
  if (s == null || !isFinite(s) || s < 0) return "";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
  const m = Math.floor(s / 60) % 60, sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** Bytes as "12.3 MiB". */
function fmtBytes(b) {
  if (b == null || !isFinite(b)) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) {
    b /= 1024;
    i++;
  }
  return (i ? b.toFixed(b < 10 ? 2 : b < 100 ? 1 : 0) : String(b)) + " " + u[i];
}

/** A last_exit ({code, signal}) as "exit 1", "SIGKILL", or "". */
const SIGNALS = { 1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT",
  9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM" };
function fmtExit(e) {
  if (!e) return "";
  if (e.signal != null) return SIGNALS[e.signal] || `signal ${e.signal}`;
  if (e.code != null) return `exit ${e.code}`;
  if (e.unknown) return "unknown";
  return "";
}

function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

/** Sets an element's text only when it changes (no layout otherwise). */
function setText(el, text) {
  text = text == null ? "" : String(text);
  if (el.textContent !== text) el.textContent = text;
}

/** Debounces fn by ms. */
function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** The time of the manager: wall clock of this browser. */
const now = () => Date.now() / 1000;
