"""The newsroom's pages: /status (what went out, what did not, and why) and /preview/{id} (a digest
as subscribers will see it). For editors, not subscribers: never linked from the public pages."""

from __future__ import annotations

from html import escape
from typing import Any

from ..documents.model import Entry, Lang, Reason
from .entries import item
from .html import CSS
from .views import BILINGUAL, LANG_NAMES, FeedMeta, clean

STATUS_CSS = """
.files{list-style:none;padding:0;margin:0}
.files li{padding:.7rem 0;border-bottom:1px solid var(--line);font:15px/1.45 system-ui,sans-serif}
.badge{display:inline-block;min-width:5.5rem;font-weight:600}
.missing{color:#8a5a00}
.rejected .badge{color:#b3261e}.warned .badge{color:#8a5a00}.published .badge{color:#1e7b34}
.path{font-family:ui-monospace,monospace;word-break:break-all}
.findings{margin:.3rem 0 0 1.2rem;padding:0}
.counts{font:15px/1.4 system-ui,sans-serif}
form{margin:1rem 0;display:flex;gap:.5rem;flex-wrap:wrap}
input,select,button{font:15px system-ui,sans-serif;padding:.3rem .5rem}
.entry{border:1px solid var(--line);padding:.2rem 1rem;margin:1rem 0}
"""
_LABEL = {"published": "published", "warned": "warnings", "rejected": "rejected"}


def _finding(line: int | None, text: str, level: str = "warning") -> str:
    where = f"line {line}: " if line is not None else ""
    note = "note: " if level == "note" else ""
    return f"<li>{escape(where + note + text)}</li>"


def _file(f: dict[str, Any]) -> str:
    warned = any(w.get("level") != "note" for w in f["warnings"])
    state = "warned" if f["state"] == "published" and warned else f["state"]
    title = " / ".join(t for t in (f["title"].get("uk"), f["title"].get("en")) if t)
    path = f'<span class="path">{escape(f["path"])}</span>'
    link = f'<a href="{escape(f["preview"])}">{path}</a>' if f.get("preview") else path
    parts = [f'<li class="{state}"><span class="badge">{_LABEL[state]}</span> {link}']
    if title:
        parts.append(f"<div>{escape(title)}</div>")
    if f["state"] == "published":
        parts.append(f'<div class="meta">published {escape(f["published"][:16].replace("T", " "))} UTC'
                     f' · updated {escape(f["updated"][:16].replace("T", " "))} UTC'
                     f' · {escape(", ".join(LANG_NAMES[lang] for lang in f["languages"]) or "bilingual only")}</div>')
    # Said apart from the warnings: a dropped paragraph's warning does not say it cost a whole feed.
    for lang, why in (f.get("missing") or {}).items():
        parts.append(f'<div class="missing">not in /{escape(lang)}/: {escape(why)}</div>')
    findings = [_finding(w["line"], w["message"], w.get("level", "warning")) for w in f["warnings"]]
    if f["reason"]:
        findings.insert(0, _finding(f["reason"]["line"], f["reason"]["text"]))
    if findings:
        parts.append(f'<ul class="findings">{"".join(findings)}</ul>')
    return "".join(parts) + "</li>"


def _page(meta: FeedMeta, title: str, body: str, *, script: bool = False) -> bytes:
    js = '<script src="/status.js" defer></script>\n' if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="robots" content="noindex">\n<title>{escape(title)} · {escape(clean(meta.title))}</title>\n'
            f"<style>{CSS}{STATUS_CSS}</style>\n{js}</head>\n<body>\n"
            f"<header><h1>{escape(title)}</h1><p class=\"sub\">{escape(clean(meta.title))}</p></header>\n"
            f"<main>\n{body}\n</main>\n</body>\n</html>\n").encode()


def status_page(meta: FeedMeta, data: dict[str, Any], query_state: str | None, q: str | None) -> bytes:
    counts = data["counts"]
    options = "".join(f'<option value="{v}"{" selected" if v == (query_state or "") else ""}>{n}</option>'
                      for v, n in (("", "all"), ("rejected", "rejected"), ("warned", "with warnings"),
                                   ("published", "published")))
    form = (f'<form method="get" action="/status"><select name="state">{options}</select>'
            f'<input name="q" value="{escape(q or "")}" placeholder="file or title"><button>Filter</button></form>')
    summary = (f'<p class="counts" id="counts">{counts["published"]} published ({counts["warned"]} with warnings),'
               f' {counts["rejected"]} rejected</p>')
    files = "".join(_file(f) for f in data["files"]) or "<li>No files.</li>"
    more = f'<p><a href="{escape(data["next"].replace("/status.json", "/status"))}">More →</a></p>' \
        if data.get("next") else ""
    return _page(meta, "Newsroom status", f'{summary}{form}<ul class="files" id="files">{files}</ul>{more}',
                 script=True)


def preview_page(meta: FeedMeta, found: tuple[str, Entry, bool] | tuple[str, Reason], base_url: str) -> bytes:
    """The digest in the bilingual, English and Ukrainian feeds, with its warnings; or why it is rejected."""
    path = found[0]
    if isinstance(found[1], Reason):
        reason = found[1]
        body = (f'<p class="path">{escape(path)}</p><p class="counts"><strong>Rejected:</strong></p>'
                f'<ul class="findings">{_finding(reason.line, reason.text)}</ul>'
                "<p>Nothing of this file is published. Fix it and save: the status page shows the outcome.</p>")
        return _page(meta, "Preview: rejected", body)
    entry = found[1]
    doc = entry.document
    warnings = "".join(_finding(w.line, w.text, "note" if w.info else "warning") for w in doc.warnings)
    missing = doc.missing()
    parts = [f'<p class="path">{escape(path)}</p>']
    if warnings:
        parts.append(f'<p class="counts"><strong>Warnings:</strong></p><ul class="findings">{warnings}</ul>')
    views: tuple[tuple[Lang | None, str], ...] = ((BILINGUAL, "Bilingual feed"), ("en", "English feed"),
                                                  ("uk", "Ukrainian feed"))
    for lang, label in views:
        shown = item(meta, lang, entry, base_url) if lang is BILINGUAL or lang in doc.languages else None
        if shown is None:
            # The parser's own reason: a generic "no headline and text" was wrong for a Russian
            # summary under a Ukrainian headline. It stays for the bilingual feed, which only a
            # document built by hand can be missing from.
            why = missing.get(lang, "") if lang is not BILINGUAL else ""
            why = why or "no headline and text in this language"
            parts.append(f"<h2>{label}</h2><p>Not in this feed: {escape(why)}.</p>")
            continue
        summary = f"<p><em>Summary:</em> {escape(shown.summary)}</p>" if shown.summary else ""
        parts.append(f'<h2>{label}</h2><div class="entry"><h3><a href="{escape(shown.texts.link)}">'
                     f"{escape(shown.title)}</a></h3>{summary}{shown.content_html}</div>")
    return _page(meta, "Preview", "".join(parts))
