"""The console in a real browser (Debian Chromium, headless, through Playwright) against the
emulator's SpeechRecognizers and a real asr-server: every page, Try it by file and by live
microphone, the actions and their refusal, and the escaping of values from the cluster.
The tests run in file order on one stack: Try it first, so the pages' screenshots show load."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.console_stack import HTML_DESCRIPTION, TOKEN, USERS, Stack, http
from support.text import normalize_words, word_error_rate

pytestmark = pytest.mark.model  # the real whisper-tiny.en behind the console
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def row(page: Any, key: str) -> Any:
    return page.locator(f'tr[data-recognizer="{key}"]')


def test_without_the_token_the_api_answers_401_and_the_page_asks_to_log_in(
    stack: Stack, page_for: Any
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-token-at-all"}):
        status, body = http("GET", f"{stack.console}/api/fleet", headers=headers)
        assert status == 401, body
        assert body["error"]["code"] in ("login_required", "bad_token")
    status, _ = http("POST", f"{stack.console}/api/login", {"token": "wrong"})
    assert status == 401
    page = page_for(stack.console, login=False)
    page.locator("form.login").wait_for()
    assert page.locator("tr[data-recognizer]").count() == 0
    page.fill("#token", "wrong")
    page.click("form.login button")
    page.get_by_text("that is not the console's token").wait_for()
    page.fill("#token", TOKEN)
    page.click("form.login button")
    row(page, "default/english").wait_for()


def test_uploading_jfk_shows_the_reference_words(
    stack: Stack, page_for: Any, jfk_clip: Any
) -> None:
    page = page_for(stack.console)
    page.goto(f"{stack.console}/#/try/default/english")
    page.set_input_files("#file", str(jfk_clip.path))
    page.select_option("#language", "en")
    page.fill("#hotwords", "Americans")  # passed on to the recognizer, which accepts it
    page.click("#transcribe")
    transcript = page.locator("#transcript")
    # Either the transcript or the error the page shows instead (named in the failure).
    page.locator("#transcript, #upload-result .error").wait_for(timeout=120_000)
    error = page.locator("#upload-result .error")
    assert not error.count(), error.inner_text()
    assert word_error_rate(jfk_clip.transcript, transcript.inner_text()) <= 0.1
    details = page.locator("#upload-result").inner_text()
    assert "confidence" in details and "answered in" in details
    assert page.locator("#upload-result tbody tr").count() >= 1  # segments with times
    page.screenshot(path=str(stack.screenshots / "console-try-upload.png"), full_page=True)


def test_live_microphone_shows_partials_then_finals_with_the_words(
    stack: Stack, page_for: Any, jfk_clip: Any
) -> None:
    page = page_for(stack.console)
    page.goto(f"{stack.console}/#/try/default/english")
    page.locator("#mic-start").wait_for()
    # Record what the page shows, in order: a partial (the one line, updated in place) or a
    # final (a new list item). Under load the server may send a final before any partial.
    page.evaluate(
        """() => {
            window.shown = [];
            const partial = document.querySelector('#partial');
            new MutationObserver(() => {
                if (partial.textContent.trim()) window.shown.push('partial');
            }).observe(partial, {childList: true, characterData: true, subtree: true});
            new MutationObserver(() => window.shown.push('final'))
                .observe(document.querySelector('#finals'), {childList: true});
        }"""
    )
    page.click("#mic-start")
    page.get_by_text("Listening…").wait_for()
    # The whole speech arrives as finals (the fake microphone loops the file: stop after it).
    page.wait_for_function(
        "() => /for your country/i.test(document.querySelector('#finals').textContent)",
        timeout=120_000,
    )
    page.screenshot(path=str(stack.screenshots / "console-try-microphone.png"), full_page=True)
    shown = page.evaluate("() => window.shown")
    last_final = len(shown) - 1 - shown[::-1].index("final")
    assert "partial" in shown[:last_final], shown  # partials while speaking, finals after
    assert shown.count("final") >= 2, shown  # finals accumulate
    assert page.locator("#partial").count() == 1  # partials replace each other in place
    page.click("#mic-stop")
    page.get_by_text("Stopped.").wait_for(timeout=60_000)
    heard = set(normalize_words(page.locator("#finals").inner_text()))
    reference = set(normalize_words(jfk_clip.transcript))
    assert len(heard & reference) >= 0.8 * len(reference), heard


def test_fleet_lists_every_recognizer_with_its_phase_and_a_degraded_ones_reason(
    stack: Stack, page_for: Any
) -> None:
    page = page_for(stack.console)
    english, broken = row(page, "default/english"), row(page, "default/broken")
    english.wait_for()
    assert "Ready" in english.inner_text()
    assert "whisper-tiny.en (faster-whisper)" in english.inner_text()
    assert "1/1" in english.inner_text()
    assert "Degraded" in broken.inner_text()
    assert "InvalidSpec: spec.model.name: unknown model 'whisper-huge'" in broken.inner_text()
    assert broken.get_attribute("class") == "degraded"
    assert "1–4" in row(page, "speech/mandarin").inner_text()  # autoscaling bounds
    assert "/metrics: 1 of 1 server(s) did not answer" in row(page, "default/gone").inner_text()
    # The live load of a recognizer whose server is scraped: gauges are figures, not dashes.
    page.wait_for_function(
        "() => document.querySelector('tr[data-recognizer=\"default/english\"] td:nth-child(11)')"
        ".textContent === '0'"
    )
    page.screenshot(path=str(stack.screenshots / "console-fleet.png"), full_page=True)


def test_recognizer_page_shows_conditions_events_spec_and_charts(
    stack: Stack, page_for: Any
) -> None:
    page = page_for(stack.console)
    page.goto(f"{stack.console}/#/r/default/broken")
    conditions = page.locator('section[aria-label="Conditions"]')
    conditions.locator("tbody tr").first.wait_for()
    degraded = conditions.locator("tr", has_text="Degraded")
    assert re.search(r"Degraded\s+True\s+InvalidSpec", degraded.inner_text())
    events = page.locator('section[aria-label="Events"]')
    assert "SpeechRecognizer/broken" in events.inner_text()
    assert "unknown model 'whisper-huge'" in events.inner_text()
    assert "name: whisper-tiny.en" in page.locator("pre.yaml").inner_text()
    page.goto(f"{stack.console}/#/r/default/english")
    page.locator('section[aria-label="Events"] tbody tr').first.wait_for()
    events = page.locator('section[aria-label="Events"]').inner_text()
    assert "Reconciled" in events and "Pod/english-5d8f7-x2k9q" in events
    pod = page.locator('section[aria-label="Pods"] tbody tr')
    assert re.search(r"english-5d8f7-x2k9q\s+Running\s+yes\s+2\s+node-a", pod.inner_text())
    # Five charts of the scraped history, drawn once a few rounds exist.
    page.wait_for_function("() => document.querySelectorAll('#charts .uplot').length === 5")
    page.screenshot(path=str(stack.screenshots / "console-recognizer.png"), full_page=True)


def test_an_annotation_holding_html_renders_as_text(stack: Stack, page_for: Any) -> None:
    page = page_for(stack.console)
    description = row(page, "default/english").locator(".description")
    assert description.inner_text() == HTML_DESCRIPTION
    page.goto(f"{stack.console}/#/r/default/english")
    page.locator(".head .description").wait_for()
    assert page.locator(".head .description").inner_text() == HTML_DESCRIPTION
    assert page.get_by_role("cell", name=HTML_DESCRIPTION).count() == 1  # the annotations table
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script:not([src])").count() == 0


def test_scale_asks_for_confirmation_and_patches_the_speech_recognizer(
    stack: Stack, page_for: Any
) -> None:
    page = page_for(stack.console)
    page.goto(f"{stack.console}/#/r/default/scalable")
    page.fill("#replicas", "3")
    page.click("#scale")
    assert "Scale default/scalable to 3 replica(s)?" in page.locator("#confirm").inner_text()
    page.click("#confirm-ok")
    page.get_by_text("Done: the SpeechRecognizer was patched").wait_for()
    assert stack.emulator.get_recognizer("default", "scalable")["spec"]["replicas"] == 3
    page.click("#suspend")
    page.click("#confirm button[value=cancel]")
    assert "suspend" not in stack.emulator.get_recognizer("default", "scalable")["spec"]
    page.click("#suspend")
    page.click("#confirm-ok")
    page.locator("#resume").wait_for()
    assert stack.emulator.get_recognizer("default", "scalable")["spec"]["suspend"] is True
    page.click("#resume")
    page.click("#confirm-ok")
    page.locator("#suspend").wait_for()
    assert stack.emulator.get_recognizer("default", "scalable")["spec"]["suspend"] is False


def test_an_autoscaled_fleet_refuses_a_replica_count(stack: Stack) -> None:
    url = f"{stack.console}/api/recognizers/speech/mandarin/scale"
    status, body = http("POST", url, {"replicas": 2}, headers=BEARER)
    assert status == 409 and body["error"]["code"] == "autoscaled"
    status, body = http("POST", url, {"replicas": "two"}, headers=BEARER)
    assert status == 400


def test_read_only_console_shows_no_actions_and_refuses_them(stack: Stack, page_for: Any) -> None:
    page = page_for(stack.read_only_console)
    page.goto(f"{stack.read_only_console}/#/r/default/scalable")
    page.locator('section[aria-label="Conditions"]').wait_for()
    assert page.locator("#mode").inner_text() == "read-only"
    assert "null" not in page.locator(".head").inner_text()  # no description, nothing shown
    assert page.locator("#scale, #suspend, #resume, #replicas").count() == 0
    page.screenshot(path=str(stack.screenshots / "console-read-only.png"), full_page=True)
    before = stack.emulator.get_recognizer("default", "scalable")["spec"]
    for action, body in (("scale", {"replicas": 5}), ("suspend", {"suspend": True})):
        url = f"{stack.read_only_console}/api/recognizers/default/scalable/{action}"
        status, answer = http("POST", url, body, headers=BEARER)
        assert status == 403 and answer["error"]["code"] == "read_only"
        # The browser's own session (cookie + CSRF token) is refused the same way.
        refused = page.evaluate(
            """async ([url, body]) => {
                const session = await (await fetch('/api/session')).json();
                const r = await fetch(url, {method: 'POST', body: JSON.stringify(body),
                  headers: {'Content-Type': 'application/json',
                            'X-CSRF-Token': session.csrf_token}});
                return r.status;
            }""",
            [url.removeprefix(stack.read_only_console), body],
        )
        assert refused == 403
    assert stack.emulator.get_recognizer("default", "scalable")["spec"] == before


def test_a_change_with_the_session_cookie_needs_the_csrf_token(stack: Stack, page_for: Any) -> None:
    page = page_for(stack.console)
    row(page, "default/english").wait_for()
    status = page.evaluate(
        """async () => (await fetch('/api/recognizers/default/scalable/scale', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{"replicas": 7}'})).status"""
    )
    assert status == 403
    assert stack.emulator.get_recognizer("default", "scalable")["spec"]["replicas"] != 7


def test_every_response_carries_the_content_security_policy(stack: Stack) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{stack.console}/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    # Everything the page loads comes from the console itself.
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_the_page_logs_a_user_in_with_their_token_and_shows_their_fleet(
    per_user: str, page_for: Any
) -> None:
    page = page_for(per_user, login=False)
    page.fill("#token", "nobody-knows-this-token")
    page.click("form.login button")
    page.get_by_text("the API server does not accept that token").wait_for()
    page.fill("#token", USERS["viewer"])
    page.click("form.login button")
    page.locator('tr[data-recognizer="default/english"]').wait_for()
    assert page.locator("#mode").inner_text() == "signed in as viewer"
    assert page.locator('tr[data-recognizer="speech/mandarin"]').count() == 0
    # What the viewer's RBAC does not allow is not offered (and refused: test_access.py).
    page.goto(f"{per_user}/#/r/default/scalable")
    page.locator('section[aria-label="Conditions"]').wait_for()
    assert page.locator("#scale, #suspend, #replicas").count() == 0
    assert not page.locator("#try-link").is_visible()


def test_a_user_who_may_scale_does_so_through_the_cookie_session(
    per_user: str, page_for: Any, stack: Stack
) -> None:
    page = page_for(per_user, login=False)
    page.fill("#token", USERS["editor"])
    page.click("form.login button")
    page.locator('tr[data-recognizer="speech/mandarin"]').wait_for()
    page.goto(f"{per_user}/#/r/default/scalable")
    page.locator("#try-link").wait_for()  # visible: the editor may reach its Service
    page.fill("#replicas", "2")
    page.click("#scale")
    page.click("#confirm-ok")  # the session's own CSRF token goes with the change
    page.get_by_text("Done: the SpeechRecognizer was patched").wait_for()
    assert stack.emulator.get_recognizer("default", "scalable")["spec"]["replicas"] == 2
