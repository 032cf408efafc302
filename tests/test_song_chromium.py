"""The song page of ``mir predict --html`` in headless Chromium: the playhead follows playback, a click on the
timeline seeks, hovering reads out a second's probabilities, a segment seeks; offline, markup shown as text.

No model: the page is written from a made-up :class:`~mir.evaluation.predict.Timeline` over a real 20-s Ogg
file (the player's audio is the file's, re-encoded into the page).
"""

from __future__ import annotations

import numpy as np
import pytest

from browser import keep_screenshot, open_page, require_browser
from conftest import tone, write_audio

require_browser()

GENRES = ["blues", "jazz <i>", "rock"]


@pytest.fixture
def song_page(tmp_path):
    from mir.evaluation.predict import Timeline, write_outputs

    path = write_audio(tmp_path / "song <b>1<b>.ogg", np.concatenate([tone(10.0, freq=220), tone(10.0, freq=330)]))
    t = np.arange(18.0)  # one window a second; blues, then rock from 6 s, then jazz from 13 s
    probs = np.array([[0.7, 0.2, 0.1] if s < 6 else [0.1, 0.3, 0.6] if s < 13 else [0.2, 0.6, 0.2] for s in t])
    tl = Timeline(path=str(path), genres=GENRES, times=t, probs=probs, duration_s=20.0)
    return write_outputs(tl, tmp_path / "out", html=True)["html"]


def _player(page) -> dict:
    return page.evaluate("(() => { const a = document.getElementById('player');"
                         " return {t: a.currentTime, paused: a.paused, playhead: mirSong.view.signal('playhead'),"
                         " x: mirSong.view.scale('x')(mirSong.view.signal('playhead')),"
                         " rule: document.querySelector('#timeline .playhead_marks line').getAttribute('transform')};"
                         "})()")


def _point(page, seconds: float) -> tuple[float, float]:
    """Page coordinates of the chart at ``seconds``, halfway up."""
    box = page.locator("#timeline svg").bounding_box()
    x, y = page.evaluate("t => { const v = mirSong.view; return [v.origin()[0] + v.scale('x')(t),"
                         " v.origin()[1] + v.height() / 2]; }", seconds)
    return box["x"] + x, box["y"] + y


def test_playhead_follows_playback_and_clicks_seek(song_page):
    assert "<script>" not in song_page.read_text()  # the page's own scripts carry an id; nothing injected
    with open_page(args=("--autoplay-policy=no-user-gesture-required",)) as (page, guard):
        page.goto(song_page.resolve().as_uri())
        page.wait_for_function("window.mirSong && mirSong.ready", timeout=60_000)
        assert page.get_attribute("#timeline", "data-rendered") == "1"
        start = _player(page)
        assert start["t"] == 0 and start["playhead"] == 0

        page.evaluate("(() => { const a = document.getElementById('player'); a.muted = true; return a.play(); })()")
        page.wait_for_function("document.getElementById('player').currentTime > 0.3", timeout=10_000)
        page.wait_for_timeout(300)
        page.evaluate("document.getElementById('player').pause()")
        page.wait_for_timeout(100)
        played = _player(page)
        assert played["paused"] and played["t"] > 0.3
        assert played["playhead"] == pytest.approx(played["t"], abs=0.05)  # the rule is where the audio is …
        assert played["x"] > 5 and played["rule"] != start["rule"]  # … and it moved on the chart

        page.mouse.move(*_point(page, 12.4))
        page.wait_for_function("document.getElementById('readout').textContent.length > 0")
        assert page.inner_text("#readout") == "0:12 — rock 60 % · jazz <i> 30 % · blues 10 %"

        page.mouse.click(*_point(page, 12.4))
        page.wait_for_timeout(200)
        seeked = _player(page)
        assert seeked["t"] == pytest.approx(12.4, abs=0.2) and seeked["playhead"] == pytest.approx(seeked["t"])

        page.click("#segments li:nth-child(3) button")
        page.wait_for_timeout(200)
        assert _player(page)["t"] == pytest.approx(13.0)
        assert page.inner_text("#segments li.playing") == "0:13–0:20 jazz <i> (mean probability 0.60)"
        assert page.evaluate("document.querySelectorAll('#segments i, #readout i, h1 b').length") == 0  # text, not tags
        keep_screenshot(page.screenshot(full_page=True), "song.png")
    assert [u for u in guard.requests if not u.startswith("file:")] == [] and guard.blocked == []
    assert guard.errors == [], guard.errors
