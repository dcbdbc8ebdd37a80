"""HTML of the sandbox pages: Jinja templates (autoescaped) shaped like Coupa's markup.

Attachments come in the forms listed in `scenario.ATTACHMENT_FORMS`, next to decoys a downloader must leave
alone: the `/attachments/<id>` "show" link, the help manual, a link to another order, a `data-url` on a
comment, and noise text.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup

from coupadl.sandbox.catalog import ServedFile
from coupadl.sandbox.scenario import PurchaseOrder

__all__ = ["Pages"]

# The page script: clicks on an attachment button (or a `.file-link`) download through a temporary
# `<a download>`, so a failing response never navigates the page away.
_SCRIPT = """
(function () {
  function download(url) {
    var a = document.createElement("a");
    a.href = url;
    a.setAttribute("download", "");
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { a.remove(); }, 0);
  }
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) { return; }
    var button = target.closest(".attachment-file [role=button]");
    var holder = button ? button.closest(".attachment-file")
                        : target.closest(".file-link[data-url]");
    var row = target.closest("[role=button]") && target.closest("[data-download-url]");
    if (!holder && row) { event.preventDefault(); download(row.getAttribute("data-download-url")); return; }
    if (!holder) { return; }
    // Some attachments carry no URL in the page: it is built from the id only when clicked.
    var url = holder.getAttribute("data-url") ||
      (holder.hasAttribute("data-attachment-id") ?
        "/attachments/" + holder.getAttribute("data-attachment-id") + "/download" : "");
    if (!url) { return; }
    event.preventDefault();
    download(url);
  });
  // A list rendered by script after load: the server sends it in a <template>, the script puts it in.
  var late = document.getElementById("late-attachments");
  if (late) {
    setTimeout(function () {
      var area = document.getElementById("attachments");
      var slot = area.querySelector(".attachments-loading");
      if (slot) { slot.remove(); }
      area.appendChild(late.content.cloneNode(true));
      area.removeAttribute("aria-busy");
    }, Number(late.getAttribute("data-delay-ms")));
  }
})();
"""

_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }} | Coupa</title>
<link rel="icon" href="data:,">
<style>
body { font-family: sans-serif; margin: 0; }
#header { background: #1b3b5a; color: #fff; padding: 8px 16px; }
#header a { color: #fff; margin-right: 12px; }
#main { padding: 16px; }
.attachment { margin: 4px 0; }
.attachment-file [role=button], .file-link { color: #0645ad; cursor: pointer; text-decoration: underline; }
.flash_error { background: #fdd; border: 1px solid #c00; padding: 8px; }
</style>
</head>
<body class="{{ body_class }}">
<div id="header">
  <a class="logo" href="/user/home">coupa</a>
  {% if signed_in %}<a href="/user/home">Home</a><a href="/order_headers">Orders</a>{% endif %}
  <a class="help-link" href="/help/manual?topic=purchase_orders">Help: Coupa user manual (PDF)</a>
  {% if signed_in %}<span class="user-menu" data-user="sandbox.user@example.com">Sandbox User</span>
  {% endif %}
</div>
<div id="main">
{{ content }}
</div>
<div id="footer">Powered by the coupadl sandbox. ================================================</div>
<script>{{ script|safe }}</script>
</body>
</html>
"""

_ATTACHMENTS = """<section id="attachments" class="attachments-section"{%
    if late and loading == "aria_busy" %} aria-busy="true"{% endif %}>
  <h3>Attachments</h3>
  <p class="note">==================== Attachments ====================</p>
  {% if late %}
  <div class="attachments-loading">{% if loading == "placeholder" %}<span>Loading attachments...</span>{%
    elif loading == "spinner" %}<span class="spinner" role="progressbar"></span>{% endif %}</div>
  {% if not forever %}<template id="late-attachments" data-delay-ms="{{ delay_ms }}">{{ items }}</template>{%
    endif %}
  {% else %}{{ items }}{% endif %}
</section>
"""

_ATTACHMENT_LIST = """
  {% if files %}
  <ul class="attachments">
  {% for f in files %}{% set a = f.attachment %}{% set id = f.attachment_id %}
    {% if a.form == "button_span" %}
    <li class="attachment" data-url="/attachments/{{ id }}">
      {% if a.click_only %}<span class="attachment-file" data-attachment-id="{{ id }}">
      {% else %}<span class="attachment-file" data-url="{{ base }}{{ f.path }}">{% endif %}
        <span role="button" title="{{ a.name }}" aria-label="{{ a.name }} file attachment">{{
          a.shown_label }}</span>
      </span>
      <a class="attachment-info" href="/attachments/{{ id }}" title="Attachment details">details</a>
    </li>
    {% elif a.form == "anchor" %}
    <li class="attachment"><a href="{{ f.path }}">{{ a.shown_label }}</a>
      <a class="attachment-info" href="/attachments/{{ id }}" title="Attachment details">details</a></li>
    {% elif a.form == "anchor_download_attr" %}
    <li class="attachment"><a download href="{{ f.path }}">{{
      a.shown_label }}</a></li>
    {% elif a.form == "data_url" %}
    <li class="attachment"><div class="file-link" role="link" tabindex="0"
      data-url="{{ f.path }}">{{ a.shown_label }}</div></li>
    {% elif a.form == "filename_query" %}
    <li class="attachment"><a href="{{ f.path }}">{{ a.shown_label }}</a></li>
    {% elif a.form == "role_button_ancestor" %}
    <li class="attachment attachment-row" data-download-url="{{ f.path }}"><div class="file-cell">
      <span role="button" tabindex="0" aria-label="{{ a.name }} file attachment">{{ a.shown_label }}</span>
    </div></li>
    {% endif %}
  {% endfor %}
  </ul>
  {% else %}
  <p class="empty">No attachments</p>
  {% endif %}
"""

_ORDER = """<div id="order_header"
  class="order-header{% if po.busy_elsewhere %} order-with-attachments{% endif %}"
  data-po-number="{{ shown }}">
<h1 class="page-title">Purchase Order #{{ shown }}</h1>
{% if po.busy_elsewhere %}<section class="approvals" aria-busy="true"><span class="spinner"></span>
  <span>Loading approvals...</span></section>{% endif %}
<div class="header-info">
  <div class="field"><span class="label">Supplier</span>
    <span data-supplier-name="{{ po.supplier }}" class="supplier-name">{{ po.supplier }}</span></div>
  <div class="field"><span class="label">Status</span> <span class="status">Issued</span></div>
  {% for requisition in po.requisitions %}<div class="field"><span class="label">Requisition</span>
    <a class="requisition-link" href="/requisition_headers/{{ requisition.number }}">Requisition #{{
      requisition.number }}</a></div>{% endfor %}
</div>
<table class="order-lines">
  <thead><tr><th>#</th><th>Description</th><th>Qty</th><th>Price</th><th>Total</th></tr></thead>
  <tbody>
  {% for line in po.lines %}
    <tr class="order-line"><td>{{ loop.index }}</td><td>{{ line.description }}</td>
      <td>{{ line.quantity }}</td>
      <td>{{ "%.2f"|format(line.unit_price) }}</td><td>{{ "%.2f"|format(line.total) }}</td></tr>
  {% endfor %}
  </tbody>
</table>
{{ attachments }}
<section class="comments">
  <h3>Comments</h3>
  <div class="comment" data-url="/comments/{{ po.number }}">Supplier asked to see the quote again, see
    <a class="related-order" href="/order_headers/{{ other }}">PO #{{ other }}</a>.</div>
  <p class="noise">Attachment removed by sender: old_quote.pdf</p>
</section>
</div>
"""

_REQUISITION = """<div id="requisition_header" class="requisition-header"
  data-requisition-number="{{ number }}">
<h1 class="page-title">Requisition #{{ number }}</h1>
<div class="header-info"><span class="label">Requested by</span> <span class="requester">Sandbox User</span>
  <span class="label">Order</span> <a class="related-order" href="/order_headers/{{ po.number }}">PO #{{
    po.number }}</a></div>
{{ attachments }}
</div>
"""

_HOME = """<div id="user_home" data-page="home">
<h1>Welcome back, Sandbox User</h1>
<p>You have {{ count }} open orders.</p>
</div>
"""

_ORDERS = """<h1>Orders</h1>
<ul class="order-list">
{% for po in pos %}
  <li><a href="/order_headers/{{ po.number }}">PO #{{ po.number }}</a> {{ po.supplier }}</li>
{% endfor %}
</ul>
"""

_NOT_FOUND = """<div class="flash_error" id="flash_error">{{ t.box }}</div>
<h1>{{ t.heading }}</h1>
<p>{{ t.text }}</p>
"""

_FORBIDDEN = """<div class="flash_error" id="flash_error">{{ t.box }}</div>
<h1>{{ t.heading }}</h1>
<p>{{ t.text }}</p>
"""

# The error pages in the languages tenants use (the wording coupadl's defaults expect, see settings.py).
_ERROR_WORDING: dict[str, dict[str, dict[str, str]]] = {
    "not_found": {
        "en": {"box": "Oops! We couldn't find what you wanted", "heading": "Oops",
               "text": "The page you were looking for doesn't exist."},
        "pt-BR": {"box": "Desculpe, não encontramos o que você procurava", "heading": "Ops",
                  "text": "A página que você procura não existe."},
        "es": {"box": "Lo sentimos, no encontramos lo que buscaba", "heading": "Vaya",
               "text": "La página que buscaba no existe."},
        "fr": {"box": "Désolé, nous n'avons pas trouvé ce que vous cherchiez", "heading": "Oups",
               "text": "La page que vous recherchez n'existe pas."},
        "de": {"box": "Hoppla! Wir konnten nicht finden, wonach Sie gesucht haben", "heading": "Hoppla",
               "text": "Die gesuchte Seite existiert nicht."},
    },
    "forbidden": {
        "en": {"box": "You are not authorized to view this page", "heading": "Access denied",
               "text": "Ask your Coupa administrator for access."},
        "pt-BR": {"box": "Você não está autorizado a acessar esta página", "heading": "Acesso negado",
                  "text": "Peça acesso ao administrador do Coupa."},
        "es": {"box": "No está autorizado para acceder a esta página", "heading": "Acceso denegado",
               "text": "Pida acceso a su administrador de Coupa."},
        "fr": {"box": "Vous n'êtes pas autorisé à accéder à cette page", "heading": "Accès refusé",
               "text": "Demandez l'accès à votre administrateur Coupa."},
        "de": {"box": "Sie sind nicht berechtigt, diese Seite aufzurufen", "heading": "Zugriff verweigert",
               "text": "Bitten Sie Ihren Coupa-Administrator um Zugriff."},
    },
}  # fmt: skip

_SIGN_IN = """<div id="sign_in" class="sessions-new">
<h1>Sign in to Coupa</h1>
{% if error %}<div class="flash_error">{{ error }}</div>{% endif %}
<form id="new_user" action="/sessions" method="post">
  <input type="hidden" name="return_to" value="{{ return_to }}">
  <label for="user_email">Email</label>
  <input id="user_email" name="user[email]" type="email" autocomplete="username">
  <label for="user_password">Password</label>
  <input id="user_password" name="user[password]" type="password" autocomplete="current-password">
  <button id="sign_in_button" name="commit" type="submit">Sign In</button>
</form>
</div>
"""

_SHOW = """<h1>Attachment details</h1>
<dl class="attachment-details"><dt>File</dt><dd>{{ f.name }}</dd><dt>Size</dt><dd>{{ f.size }} bytes</dd>
<dt>Uploaded by</dt><dd>Supplier portal</dd></dl>
"""

_TEXT = """<h1>{{ heading }}</h1><p>{{ text }}</p>"""


class Pages:
    """Compiled templates; each method returns a whole HTML page.

    Args:
        env: The Flask app's Jinja environment (autoescaping on for string templates).
    """

    def __init__(self, env: Environment) -> None:
        self._layout = env.from_string(_LAYOUT)
        self._attachments = env.from_string(_ATTACHMENTS)
        self._attachment_items = env.from_string(_ATTACHMENT_LIST)
        self._t: dict[str, Template] = {
            name: env.from_string(source)
            for name, source in {
                "order": _ORDER,
                "requisition": _REQUISITION,
                "home": _HOME,
                "orders": _ORDERS,
                "not_found": _NOT_FOUND,
                "forbidden": _FORBIDDEN,
                "sign_in": _SIGN_IN,
                "show": _SHOW,
                "text": _TEXT,
            }.items()
        }

    def _page(self, name: str, title: str, *, signed_in: bool = True, **context: Any) -> str:
        content = Markup(self._t[name].render(**context))  # noqa: S704 - rendered by an autoescaping template
        return self._layout.render(
            title=title, content=content, signed_in=signed_in, body_class=name, script=_SCRIPT
        )

    def _attachment_list(self, files: list[ServedFile], base: str, po: PurchaseOrder | None = None) -> Markup:
        items = Markup(self._attachment_items.render(files=files, base=base))  # noqa: S704 - autoescaped
        late = po is not None and (po.attachments_delay_s > 0 or po.attachments_forever)
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            self._attachments.render(
                items=items,
                late=late,
                forever=po.attachments_forever if po else False,
                loading=po.attachments_loading if po else "none",
                delay_ms=int(po.attachments_delay_s * 1000) if po else 0,
            )
        )

    def order(self, po: PurchaseOrder, files: list[ServedFile], base: str) -> str:
        """A PO page: header with supplier, lines, attachments (maybe rendered late by script), decoys."""
        other = str(int(po.number) - 1).zfill(len(po.number))
        shown = po.shown_number or po.number
        return self._page(
            "order",
            f"Purchase Order #{shown}",
            po=po,
            shown=shown,
            other=other,
            attachments=self._attachment_list(files, base, po),
        )

    def requisition(self, number: str, po: PurchaseOrder, files: list[ServedFile], base: str) -> str:
        """A requisition page with its attachments."""
        return self._page(
            "requisition",
            f"Requisition #{number}",
            number=number,
            po=po,
            attachments=self._attachment_list(files, base),
        )

    def home(self, count: int) -> str:
        """The light authenticated landing page."""
        return self._page("home", "Home", count=count)

    def orders(self, pos: list[PurchaseOrder]) -> str:
        """List of the scenario's POs."""
        return self._page("orders", "Orders", pos=pos)

    def not_found(self, *, signed_in: bool = True, language: str = "en") -> str:
        """Coupa's "Oops" page, in `language`."""
        wording = _ERROR_WORDING["not_found"][language]
        return self._page("not_found", wording["heading"], signed_in=signed_in, t=wording)

    def forbidden(self, language: str = "en") -> str:
        """Coupa's "not authorized" page, in `language`."""
        wording = _ERROR_WORDING["forbidden"][language]
        return self._page("forbidden", wording["heading"], t=wording)

    def sign_in(self, return_to: str, error: str = "") -> str:
        """The native sign-in form (`#user_email`, `#user_password`)."""
        return self._page("sign_in", "Sign in", signed_in=False, return_to=return_to, error=error)

    def attachment_show(self, served: ServedFile) -> str:
        """The `/attachments/<id>` details page (not the file)."""
        return self._page("show", "Attachment", f=served)

    def text(self, title: str, heading: str, text: str) -> str:
        """A plain page (help manual, comments): decoys that hold no file."""
        return self._page("text", title, heading=heading, text=text)
