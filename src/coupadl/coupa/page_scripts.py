"""The scripts run in a PO page: gather its raw facts (`PROBE_JS`), wait inside the page until its attachments
have settled (`SETTLE_JS`), and read a throttled page's `Retry-After` (`RETRY_AFTER_JS`).

They only gather; `coupadl.coupa.page.classify_page` judges what they return (so the rules are unit-tested
without a browser). Every attachment candidate is tagged with a `data-coupadl-ref` attribute, so it can be
clicked later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from coupadl.browser.signin import SIGNIN_FORM_SELECTOR

__all__ = ["ATTACHMENT_AREA_SELECTOR", "PROBE_JS", "RETRY_AFTER_JS", "SETTLE_JS", "settle_arguments"]

_GATHER_JS = r"""
const coupadlGather = (marker) => {
window.__coupadlMarker = marker;
const clip = (s, n) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n || 400);
const text = el => clip(el.textContent);
const abs = v => { try { return v ? new URL(v, document.baseURI).href : ''; } catch (e) { return ''; } };
const out = {url: location.href, title: clip(document.title), status: 0, ready: document.readyState,
             password: false, errors: [], headings: [], numbers: [], suppliers: [], items: [],
             requisitions: []};
try {
  const nav = performance.getEntriesByType('navigation')[0];
  out.status = (nav && nav.responseStatus) || 0;
} catch (e) {}
out.body = document.body ? document.body.textContent.trim().length : 0;
out.password = !!document.querySelector(__SIGNIN_FORM_SELECTOR__);
document.querySelectorAll(
  'div.flash_error, #error_explanation, .flash_error, #flash_error, .flash.error, .alert-danger, ' +
  'div.notice, .error-page, .error_page'
).forEach(el => out.errors.push(text(el)));
document.querySelectorAll('h1').forEach(el => out.headings.push(text(el)));
document.querySelectorAll('[data-po-number], [data-requisition-number]').forEach(el =>
  out.numbers.push(clip(el.getAttribute('data-po-number') || el.getAttribute('data-requisition-number'))));
document.querySelectorAll('[data-supplier-name], [class*="supplier-name"], [class*="supplier_name"]')
.forEach(el =>
  out.suppliers.push({attr: clip(el.getAttribute('data-supplier-name') || ''), text: text(el)}));
// Refs are numbered page-wide, so an element found on a later call never takes an earlier one's ref.
window.__coupadlNextRef = window.__coupadlNextRef || 0;
let n = 0;
const seen = new Set();
const elementOf = [];
const add = (el, clickEl, kind, url) => {
  if (!url || n >= 500) return;
  n++;
  const target = clickEl || el;
  elementOf.push(target);
  if (!target.hasAttribute('data-coupadl-ref')) {
    target.setAttribute('data-coupadl-ref', String(window.__coupadlNextRef++));
  }
  seen.add(el);
  out.items.push({
    ref: target.getAttribute('data-coupadl-ref'), order: elementOf.length - 1, kind: kind, url: url,
    title: clip(target.getAttribute('title') || el.getAttribute('title') || ''),
    aria: clip(target.getAttribute('aria-label') || el.getAttribute('aria-label') || ''),
    download: el.hasAttribute('download') ? clip(el.getAttribute('download') || '') : null,
    label: text(target),
  });
};
document.querySelectorAll('span.attachment-file[data-url], .attachment-file[data-url]').forEach(el => {
  if (seen.has(el)) return;
  add(el, el.querySelector('[role=button]'), 'button', abs(el.getAttribute('data-url')));
});
// A button whose file URL is nowhere in the page (its script builds it on click): only a click downloads it.
document.querySelectorAll('.attachment-file:not([data-url]) [role=button]').forEach(el => {
  add(el, null, 'click_only', 'about:click');
});
// A button labelled "... file attachment" whose URL sits on an ancestor (up to 4 levels up).
const URL_ATTRS = ['data-url', 'data-href', 'href', 'data-download-url'];
const fromOnclick = v => {
  const m = /['"]((?:https?:\/\/|\/)[^'"]+)['"]/.exec(v || '');
  return m ? m[1] : '';
};
document.querySelectorAll('span[role=button][aria-label]').forEach(button => {
  if (!/file\s+attachment\s*$/i.test(button.getAttribute('aria-label') || '')) return;
  if (button.closest('.attachment-file[data-url]')) return;
  let el = button;
  for (let up = 0; up <= 4 && el && el !== document.body; up++, el = el.parentElement) {
    if (seen.has(el)) return;
    const attr = URL_ATTRS.find(a => el.getAttribute(a));
    const url = attr ? el.getAttribute(attr) : fromOnclick(el.getAttribute('onclick'));
    if (url) { add(el, button, 'button', abs(url)); return; }
  }
});
document.querySelectorAll('a[href]').forEach(a => {
  if (seen.has(a)) return;
  const href = a.getAttribute('href') || '';
  if (a.hasAttribute('download') ||
      /attachment|download|[?&](file|name|filename)=|disposition=attachment/i.test(href)) {
    add(a, null, 'anchor', a.href);
  }
});
document.querySelectorAll('[data-url], [data-download-url]').forEach(el => {
  if (seen.has(el) || el.matches('.attachment-file')) return;
  add(el, null, 'data_url', abs(el.getAttribute('data-download-url') || el.getAttribute('data-url')));
});
// One pass per form finds them out of page order; the page's order is what an operator sees.
out.items.sort((x, y) => {
  const a = elementOf[x.order], b = elementOf[y.order];
  return a === b ? 0 : (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
});
document.querySelectorAll('a[href*="/requisition_headers/"]').forEach(a => out.requisitions.push(a.href));
return out;
};
""".replace("__SIGNIN_FORM_SELECTOR__", json.dumps(SIGNIN_FORM_SELECTOR))

PROBE_JS = _GATHER_JS + "return coupadlGather(arguments[0]);"
"""Run with one argument, a marker string; returns the raw facts `classify_page` judges (no waiting)."""

SETTLE_JS = (
    _GATHER_JS
    + r"""
const [marker, quietMs, timeoutMs, loadingTexts, areaSelector, done] = arguments;
const t0 = performance.now();
// Kept on the page, so a second call knows since when the candidates have not changed.
const st = window.__coupadlSettle || (window.__coupadlSettle = {sig: null, since: t0});
const lowered = loadingTexts.map(t => t.toLowerCase());
const loadingNow = () => {
  const reasons = [];
  // Attachment areas, never the whole page (a container holding the page's h1 is not one), outermost
  // only (one reason per area).
  const found = new Set([...document.querySelectorAll(areaSelector)].filter(el =>
    el !== document.body && el !== document.documentElement && !el.querySelector('h1')));
  const areas = [...found].filter(el => {
    for (let up = el.parentElement; up; up = up.parentElement) { if (found.has(up)) return false; }
    return true;
  });
  areas.forEach(area => {
    if (reasons.length >= 3) return;
    const name = area.id ? '#' + area.id : area.tagName.toLowerCase() +
      (area.classList.length ? '.' + area.classList[0] : '');
    const busy = area.closest('[aria-busy="true"]') || area.querySelector('[aria-busy="true"]');
    if (busy) { reasons.push('aria-busy on ' + name); return; }
    if (area.querySelector('.spinner, .loading, [class*="spinner"], [role=progressbar]')) {
      reasons.push('a spinner in ' + name); return;
    }
    for (const el of area.querySelectorAll('*')) {
      // A file's own name ("Loading dock.jpg") is not a loading sign.
      if (el.children.length || el.closest('a, [role=button], [data-coupadl-ref], [data-url]')) continue;
      const t = (el.textContent || '').trim().toLowerCase();
      if (t && t.length <= 80 && lowered.some(w => t.startsWith(w))) {
        reasons.push("'" + el.textContent.trim().slice(0, 40) + "' in " + name); return;
      }
    }
  });
  return reasons;
};
const finish = (settled, facts, loading, quiet) => {
  facts.settle = {settled: settled, loading: loading, quiet_ms: Math.round(quiet),
                  waited_ms: Math.round(performance.now() - t0)};
  done(facts);
};
const tick = () => {
  let facts;
  try { facts = coupadlGather(marker); } catch (e) { done({error: String(e)}); return; }
  const now = performance.now();
  const sig = facts.items.map(i => i.url).sort().join('\n');
  if (sig !== st.sig) { st.sig = sig; st.since = now; }
  const loading = loadingNow();
  const quiet = now - st.since;
  if (facts.ready === 'complete' && !loading.length && quiet >= quietMs) {
    finish(true, facts, loading, quiet); return;
  }
  if (now - t0 >= timeoutMs) { finish(false, facts, loading, quiet); return; }
  setTimeout(tick, 100);
};
tick();
"""
)
"""Asynchronous: arguments marker, quiet time (ms), time-out (ms), loading texts, attachment-area selector.
Waits until the document is complete, no attachment area shows a loading sign (`aria-busy`, a spinner, a
loading text) and the set of attachment candidates has not changed for the quiet time, or the time-out
passed; returns the same facts as `PROBE_JS` plus `settle: {settled, loading, quiet_ms, waited_ms}`."""

ATTACHMENT_AREA_SELECTOR = (
    '#attachments, [id*="attachment" i], [class*="attachment" i], [data-section*="attachment" i]'
)
"""Where attachments are listed (and so where a loading sign means the list is not complete yet)."""

RETRY_AFTER_JS = r"""
const done = arguments[arguments.length - 1];
fetch(location.href, {method: 'HEAD', credentials: 'include', cache: 'no-store', redirect: 'manual'})
  .then(r => done({status: r.status, retry_after: r.headers.get('Retry-After') || ''}))
  .catch(e => done({status: 0, retry_after: '', error: String(e)}));
"""
"""Asynchronous: a page script cannot read the navigation's headers, so one HEAD request of the same address
reads `Retry-After` (on a throttled site it answers 429 again, with the current wait)."""


def settle_arguments(
    marker: str, quiet: float, timeout: float, loading_texts: Sequence[str]
) -> tuple[str, int, int, list[str], str]:
    """The arguments `SETTLE_JS` takes (before its callback), for `settle_page` or a tab's `open_async`."""
    return (marker, int(quiet * 1000), int(timeout * 1000), list(loading_texts), ATTACHMENT_AREA_SELECTOR)
