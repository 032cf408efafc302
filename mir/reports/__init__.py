"""Reports: self-contained HTML pages (no network) and the ``report`` stage."""
