import re

from mir.reports.html import esc, page, table


def test_metadata_is_escaped_and_pages_are_offline():
    evil = '<script>alert("x")</script>'
    html = page(f"t {evil}", table(["title"], [(evil,)]), subtitle=evil)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert esc('"') == "&quot;"
