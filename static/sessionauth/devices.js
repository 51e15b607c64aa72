/**
 * Progressive enhancement of the devices page (`sessionauth/devices.html`).
 *
 * Without JavaScript each per-device "Sign out" button posts its form and the
 * browser loads the page the server answers with. With it, the very same form
 * is posted with `fetch`, and the page the server answers with (the devices
 * page, with its flash message, or the "already signed out" notice) replaces
 * the current one in place: no reload, keyboard focus kept, and one renderer —
 * the server's templates — for both paths, so the page always matches what
 * the server would render (the empty state, the bulk actions, the icons).
 * Anything unexpected falls back to submitting the form the ordinary way.
 *
 * Loaded as `<script type="module">` from the page: no inline code, so it
 * works under the pages' `script-src 'self'` policy.
 */

const PAGE = ".sa-page";
const REVOKE_PATH = /\/devices\/[^/]+\/revoke$/;

document.addEventListener("submit", onSubmit);

/** The per-device sign-out form of a card: it posts to `.../devices/<id>/revoke`. */
function isRevokeForm(form) {
  return form instanceof HTMLFormElement && REVOKE_PATH.test(new URL(form.action, document.baseURI).pathname);
}

async function onSubmit(event) {
  const form = event.target;
  if (!isRevokeForm(form)) return;
  event.preventDefault();
  const card = form.closest("[data-session-id]");
  if (card && card.getAttribute("aria-busy") === "true") return;
  if (card) card.setAttribute("aria-busy", "true");
  // aria-disabled, not disabled: disabling the focused button would drop focus to <body>.
  const button = form.querySelector('[type="submit"]');
  if (button) button.setAttribute("aria-disabled", "true");
  const hadFocus = card ? card.contains(document.activeElement) : false;
  const neighbour = card && (card.nextElementSibling || card.previousElementSibling);

  let response;
  let html;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    html = await response.text();
  } catch {
    return resubmit(form);
  }
  const landed = new URL(response.url);
  if (landed.pathname !== window.location.pathname) {
    // Signed out meanwhile (the server answered with the sign-in page): go there.
    window.location.assign(response.url);
    return;
  }
  // 404 is the server's "that device was already signed out" page: just as good.
  if (!response.ok && response.status !== 404) return resubmit(form);
  const next = new DOMParser().parseFromString(html, "text/html").querySelector(PAGE);
  const current = document.querySelector(PAGE);
  if (!next || !current) return resubmit(form);
  current.replaceWith(next);
  if (hadFocus) focusAfter(next, neighbour && neighbour.dataset.sessionId);
  announce(next);
}

/** Post the form the ordinary way (no submit event is fired: no loop). */
function resubmit(form) {
  HTMLFormElement.prototype.submit.call(form);
}

/** Keyboard focus goes to the neighbouring card's button, else the heading. */
function focusAfter(page, neighbourId) {
  const card = neighbourId && page.querySelector(`[data-session-id="${CSS.escape(neighbourId)}"]`);
  // The card's sign-out button (not the folded rename form's, which cannot take focus).
  let target = (card && card.querySelector(".sa-session__actions button")) || page.querySelector("h1");
  if (!target) return;
  if (!target.matches("button, a, input")) target.setAttribute("tabindex", "-1");
  target.focus();
}

/** Screen readers hear the server's flash message through a live region
 * that stays in the document (a freshly inserted one is not announced). */
function announce(page) {
  const flash = page.querySelector(".sa-flashes");
  let region = document.getElementById("sa-live");
  if (!region) {
    region = document.createElement("div");
    region.id = "sa-live";
    region.className = "sa-visually-hidden";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    document.body.append(region);
  }
  region.textContent = flash ? flash.textContent.trim() : "";
  if (flash) flash.removeAttribute("aria-live");
}
