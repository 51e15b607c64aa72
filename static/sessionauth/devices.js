/**
 * Progressive enhancement of the devices page (`sessionauth/devices.html`).
 *
 * Without JavaScript each "Sign out" button posts its form and the page
 * reloads. With it, the device is signed out through the JSON API, its card
 * leaves the list without a page load, and the list is re-rendered from
 * `listSessions()` (so devices signed out elsewhere disappear too). Anything
 * unexpected (sudo needed, an error, the API switched off) falls back to
 * submitting the form, so the server's answer is always the last word.
 *
 * Loaded as `<script type="module">` from the page: no inline code, so it
 * works under the pages' `script-src 'self'` policy.
 */

import { createAuthClient } from "./client.js";

const ACTIVE_NOW_SECONDS = 300; // the server stamps activity at most every 5 minutes

const list = document.getElementById("session-list");
const script = document.querySelector("script[data-sessionauth-api]");
const client = createAuthClient({ baseURL: (script && script.dataset.sessionauthApi) || undefined });

if (list) list.addEventListener("submit", onSubmit);

/** The per-device sign-out form of a card: it posts to `.../devices/<id>/revoke`. */
function isRevokeForm(form, sessionId) {
  if (!(form instanceof HTMLFormElement) || !sessionId) return false;
  const path = new URL(form.action, document.baseURI).pathname;
  return path.endsWith(`/devices/${encodeURIComponent(sessionId)}/revoke`);
}

async function onSubmit(event) {
  const form = event.target;
  const card = form.closest("[data-session-id]");
  if (!card || !isRevokeForm(form, card.dataset.sessionId)) return;
  event.preventDefault();
  if (card.getAttribute("aria-busy") === "true") return;
  card.setAttribute("aria-busy", "true");
  // aria-disabled, not disabled: disabling the focused button would drop focus to <body>.
  const button = form.querySelector('[type="submit"]');
  if (button) button.setAttribute("aria-disabled", "true");

  const name = deviceName(card);
  const { error } = await client.user.revokeSession({ id: card.dataset.sessionId });
  // 404: already signed out (elsewhere, or in another tab) - just as good.
  if (error && error.status !== 404) {
    HTMLFormElement.prototype.submit.call(form); // no submit event: no loop
    return;
  }
  moveFocusFrom(card);
  card.remove();
  announce(`${name} has been signed out.`);
  await refresh();
}

/** Re-render the list from the server's current view of the account. */
async function refresh() {
  const { data, error } = await client.user.listSessions();
  if (error) {
    // Signed out meanwhile: let the server show the sign-in page.
    if (error.status === 401) window.location.reload();
    return;
  }
  render(data);
}

function render(sessions) {
  const cards = new Map([...list.querySelectorAll("[data-session-id]")].map((card) => [card.dataset.sessionId, card]));
  // This device first, then the rest newest activity first, as the server renders it.
  const ordered = [...sessions.filter((s) => s.current), ...sessions.filter((s) => !s.current)];
  const keep = new Set(ordered.map((s) => s.id));
  for (const [id, card] of cards) {
    if (!keep.has(id)) {
      moveFocusFrom(card);
      card.remove();
    }
  }
  let position = 0;
  for (const session of ordered) {
    const card = cards.get(session.id) || buildCard(session);
    if (!card) continue;
    fill(card, session);
    // Move only what is out of place: moving a card would blur a focused button in it.
    const here = list.children[position] || null;
    if (here !== card) list.insertBefore(card, here);
    position += 1;
  }
  updateSummary(ordered.filter((s) => !s.current).length);
}

/** Update the texts that change over time: name, IP address, last activity. */
function fill(card, session) {
  const name = card.querySelector(".sa-session__name > span");
  if (name && !card.querySelector(".sa-badge")) name.textContent = session.device;
  const ip = card.querySelector(".sa-session__ip");
  if (ip) ip.textContent = session.ipAddress || "Unknown IP address";
  const activity = card.querySelector(".sa-session__activity");
  if (activity && !session.current) {
    const when = session.lastActiveAt || session.updatedAt || session.createdAt;
    const text = relativeTime(new Date(when));
    activity.replaceChildren();
    activity.classList.toggle("sa-session__activity--now", text === "Active now");
    const time = timeElement(when, text);
    if (text === "Active now") activity.append(time);
    else activity.append("Last active ", time);
  }
}

/** A card for a device that signed in after the page loaded, like the server's. */
function buildCard(session) {
  // Borrow an icon from a card already on the page (another device's if any).
  const template =
    list.querySelector("[data-session-id]:not(.sa-session--current)") || list.querySelector("[data-session-id]");
  const token = document.querySelector('meta[name="csrf-token"]');
  const base = window.location.pathname.replace(/\/+$/, "");
  if (!token || !base.endsWith("/devices")) return null;

  const card = document.createElement("li");
  card.className = "sa-session";
  card.dataset.sessionId = session.id;
  const icon = template && template.querySelector(".sa-session__icon");
  if (icon) card.append(icon.cloneNode(true));

  const body = document.createElement("div");
  body.className = "sa-session__body";
  const heading = document.createElement("h2");
  heading.className = "sa-session__name";
  const name = document.createElement("span");
  name.title = session.userAgent || "No browser information";
  name.textContent = session.device;
  heading.append(name);
  const meta = document.createElement("p");
  meta.className = "sa-session__meta";
  meta.id = `sa-meta-${session.id}`;
  const ip = document.createElement("span");
  ip.className = "sa-session__ip";
  const dot = document.createElement("span");
  dot.className = "sa-dot";
  dot.setAttribute("aria-hidden", "true");
  dot.textContent = "·";
  const signedIn = document.createElement("span");
  signedIn.append("Signed in ", timeElement(session.createdAt, formatDate(new Date(session.createdAt))));
  meta.append(ip, dot, signedIn);
  const activity = document.createElement("p");
  activity.className = "sa-session__activity";
  body.append(heading, meta, activity);

  const actions = document.createElement("div");
  actions.className = "sa-session__actions";
  const form = document.createElement("form");
  form.method = "post";
  form.action = `${base}/${encodeURIComponent(session.id)}/revoke`;
  const csrf = document.createElement("input");
  csrf.type = "hidden";
  csrf.name = "csrf_token";
  csrf.value = token.getAttribute("content");
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "sa-button sa-button--small sa-button--danger-outline";
  button.setAttribute("aria-label", `Sign out ${session.device}`);
  button.setAttribute("aria-describedby", meta.id);
  button.textContent = "Sign out";
  form.append(csrf, button);
  actions.append(form);
  card.append(body, actions);
  return card;
}

/** Keep the "sign out of all other devices" row and the empty state truthful. */
function updateSummary(others) {
  const revokeOthers = [...document.querySelectorAll("form")].find((form) =>
    new URL(form.action, document.baseURI).pathname.endsWith("/devices/revoke-others"),
  );
  const row = revokeOthers && revokeOthers.closest(".sa-row");
  if (row) {
    row.hidden = others === 0;
    const note = row.querySelector(".sa-muted");
    if (note && others > 0) {
      const what = others === 1 ? "the session on your other device" : `the sessions on your ${others} other devices`;
      note.textContent = `Ends ${what}. You stay signed in here.`;
    }
  }
  if (others === 0 && !document.querySelector(".sa-empty")) {
    const empty = document.createElement("div");
    empty.className = "sa-empty";
    const text = document.createElement("div");
    const title = document.createElement("p");
    title.className = "sa-empty__title";
    title.textContent = "This is the only device signed in to your account.";
    text.append(title);
    empty.append(text);
    list.after(empty);
  }
}

/** Before a card goes, put keyboard focus somewhere sensible (not on <body>). */
function moveFocusFrom(card) {
  if (!card.contains(document.activeElement)) return;
  const neighbour = card.nextElementSibling || card.previousElementSibling;
  const target =
    (neighbour && neighbour.querySelector("button")) || document.getElementById("sa-devices-title") || list;
  if (!target.matches("button, a, input")) target.setAttribute("tabindex", "-1");
  target.focus();
}

/** Say what happened, in the same place and words as the no-JS flash message. */
function announce(message) {
  let region = document.querySelector(".sa-flashes");
  if (!region) {
    region = document.createElement("div");
    region.className = "sa-flashes";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    const card = list.closest(".sa-card");
    (card || list).before(region);
  }
  const flash = document.createElement("p");
  flash.className = "sa-flash sa-flash--success";
  const text = document.createElement("span");
  text.textContent = message;
  flash.append(text);
  region.replaceChildren(flash);
}

function deviceName(card) {
  const name = card.querySelector(".sa-session__name > span");
  return (name && name.textContent.trim()) || "The device";
}

function timeElement(iso, text) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.title = new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  time.textContent = text;
  return time;
}

function formatDate(date) {
  return date.toLocaleDateString("en-US", { month: "short", day: "numeric", year: "numeric", timeZone: "UTC" });
}

/** The server's wording: "Active now", "5 minutes ago", "yesterday", "on Nov 2, 2026". */
function relativeTime(date) {
  const seconds = Math.max((Date.now() - date.getTime()) / 1000, 0);
  if (seconds < ACTIVE_NOW_SECONDS) return "Active now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? "1 hour ago" : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  if (days === 1) return "yesterday";
  if (days < 30) return `${days} days ago`;
  return `on ${formatDate(date)}`;
}
