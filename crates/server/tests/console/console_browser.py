#!/usr/bin/env python3
"""Drives callcomp's web console in headless Chromium (Playwright) for tests/e2e_console.rs.

    console_browser.py SCENARIO --url URL [--token TOKEN] --shots DIR

The Rust test starts the real server and the SIPp phones; this script is the operator at the
browser. When it needs something done on the SIP side it prints `STEP <name>` on stdout and
waits for a line on stdin. It prints `PASS` when every check held. On any failure it saves a
screenshot of the page in DIR (`<scenario>-failure.png`), prints why on stderr and exits 1.
It also saves desktop and phone-sized screenshots of the busiest moment, for people to look at.

Scenarios:
  completion  (server with api.token) sign in with the token; a busy call appears live; a
              callback is requested from the console; the queue shows it; the server restarts
              and the page reconnects and reads the state again; the callee registers; its
              line turns registered and the recall appears live; the queue empties.
  operations  (no token) a third-party call placed from the console connects both phones and
              is dropped from the console; a `lagged` message (injected into the WebSocket
              while events are held back) shows the notice and the state is read again; a
              request made from the console is cancelled from its queue; the event filter.

Chromium is Debian's (/usr/bin/chromium, or $CALLCOMP_CHROMIUM): `playwright install` is never
needed, and nothing is fetched from the network.
"""

import argparse
import json
import os
import re
import signal
import sys
import traceback

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sys.stderr.write(
        "Python Playwright is missing: `pip install playwright` (scripts/test installs it; "
        "the browser is Debian's chromium, `playwright install` is not needed).\n"
    )
    sys.exit(2)

CHROMIUM = os.environ.get("CALLCOMP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
# The whole run is bounded whatever happens (a lost step answer, a hung browser).
RUN_LIMIT_S = 150


def step(name):
    """Asks the Rust test to do `name` on the SIP side and waits until it is done."""
    print("STEP " + name, flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "go":
        raise AssertionError("the test answered %r to step %s" % (answer, name))


def screenshots(page, shots, name):
    """A full-page screenshot at desktop size and one at phone size."""
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=os.path.join(shots, name + "-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    # Usable on a phone: nothing wider than the screen, so no sideways scrolling.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        raise AssertionError("the page is %d px wide on a %d px phone" % (width, PHONE["width"]))
    page.screenshot(path=os.path.join(shots, name + "-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def call_row(page, line, state=None):
    """The calls-table row of `line`'s call (optionally in `state`)."""
    rows = page.locator("#calls tbody tr").filter(has=page.get_by_text(re.compile("^" + line + " ")))
    if state:
        rows = rows.filter(has=page.locator(".badge", has_text=re.compile("^" + state)))
    return rows


def line_badge(page, line):
    return page.locator('#lines tr[data-line="%s"] .badge' % line)


def live(page):
    expect(page.locator("#conn")).to_have_text("Live")


def check_names(page):
    """Every visible control has an accessible name (a label, aria-label or its text)."""
    nameless = page.evaluate(
        """() => [...document.querySelectorAll("button, select, input, a[href]")]
            .filter((el) => el.offsetParent !== null)
            .filter((el) => !((el.getAttribute("aria-label") || "").trim()
                || (el.labels && [...el.labels].some((l) => l.textContent.trim()))
                || (el.tagName !== "SELECT" && el.textContent.trim())))
            .map((el) => el.outerHTML.slice(0, 120))"""
    )
    if nameless:
        raise AssertionError("controls without an accessible name:\n" + "\n".join(nameless))


# ---- scenario: completion ----------------------------------------------------------------


def completion(page, args):
    page.goto(args.url + "/")
    # `/` leads to the console; the API wants the token, so the page asks for it.
    expect(page).to_have_url(re.compile(r"/console/$"))
    token = page.get_by_label("API token")
    expect(token).to_be_visible()
    token.fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text("The token was refused.")
    expect(page.locator("#main")).to_be_hidden()
    token.fill(args.token)
    token.press("Enter")
    live(page)
    expect(line_badge(page, "alice")).to_have_text("registered")
    expect(line_badge(page, "bob")).to_have_text("not registered")
    # Where alice's phone registered from (GET /v1/lines/alice/registrations).
    contact = page.locator('#lines tr[data-line="alice"] .contact')
    expect(contact).to_have_count(1)
    expect(contact).to_contain_text(re.compile(r"^UDP 127\.0\.0\.1:\d+ · in "))
    expect(page.locator('#lines tr[data-line="bob"] .contact')).to_have_count(0)

    step("busy-call")
    # alice called bob, who is not registered: the call appears live, busy, completable.
    row = call_row(page, "alice", "busy")
    expect(row).to_have_count(1)
    call_id = row.get_attribute("data-call-id")
    mode = page.get_by_label("Completion mode for call " + call_id)
    expect(mode).to_be_visible()
    # Operated from the keyboard: pick the mode, then press the button with Enter.
    mode.select_option("callback")
    complete = page.get_by_role("button", name="Complete call " + call_id)
    complete.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#announce")).to_contain_text("(completion 1)")

    queue = page.locator('#queues .queue[data-target="bob"]')
    expect(queue.get_by_role("heading", name="Waiting on bob")).to_be_visible()
    entry = queue.locator('tr[data-completion-id="1"]')
    expect(entry.locator('[data-label="Position"]')).to_have_text("1")
    expect(entry.locator('[data-label="Caller"]')).to_have_text("alice")
    expect(entry.locator('[data-label="Mode"]')).to_have_text("callback")
    expect(entry.locator('[data-label="Condition"]')).to_have_text("notregistered")
    expect(entry.locator('[data-label="State"]')).to_have_text("queued")
    expect(entry.locator('[data-label="Expires"] time')).to_have_text(re.compile(r"^in \d+"))
    # A callback ends the original call.
    expect(call_row(page, "alice", "busy")).to_have_count(0)
    expect(page.locator("#lines tr[data-line='alice'] [data-label='Completions']")).to_have_text(
        re.compile(r"^1 / ")
    )
    check_names(page)
    screenshots(page, args.shots, "completion-queued")

    # The server restarts: the page says the stream was lost, reconnects with its token, and
    # reads the state again from the new process (the request was on disk).
    step("restart")
    expect(page.locator('#timeline li[data-event="disconnected"]')).to_have_count(1)
    expect(page.locator('#timeline li[data-event="reconnected"]')).to_have_count(1)
    live(page)
    expect(page.locator("#login")).to_be_hidden()
    expect(entry.locator('[data-label="State"]')).to_have_text("queued")

    step("callee-registers")
    # bob's phone registers: his line turns registered, alice is rung back, the two are joined.
    expect(line_badge(page, "bob")).to_have_text("registered")
    expect(page.locator('#lines tr[data-line="bob"] .contact')).to_contain_text("UDP 127.0.0.1:")
    events = page.locator("#timeline li")
    expect(events.filter(has_text="completion 1 alice → bob callback/notregistered: recalling")).to_have_count(1)
    recall = page.locator('#timeline li[data-event="appnewcall"]').filter(has_text="on alice")
    expect(recall.filter(has_text="callcompletion #1")).to_have_count(1)
    expect(events.filter(has_text="completion 1 alice → bob callback/notregistered: completed")).to_have_count(1)
    expect(page.locator('#queues tr[data-completion-id="1"]')).to_have_count(0)
    expect(page.locator('[data-empty-for="queues"]')).to_be_visible()
    expect(page.locator("#lagged")).to_be_hidden()
    screenshots(page, args.shots, "completion-recalled")


# ---- scenario: operations ----------------------------------------------------------------


class HeldSocket:
    """Routes the page's event WebSocket through the test: server messages are forwarded,
    or held back (dropped) while `hold` is set, and the test can inject its own."""

    def __init__(self):
        self.hold = False
        self.held = 0
        self.route = None

    def handler(self, ws):
        self.route = ws
        server = ws.connect_to_server()

        def from_server(message):
            if self.hold:
                self.held += 1
            else:
                ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))


def operations(page, args):
    socket = HeldSocket()
    page.route_web_socket(re.compile(r"/v1/events$"), socket.handler)
    page.goto(args.url + "/console/")
    expect(page.locator("#login")).to_be_hidden()
    live(page)

    step("phones")
    expect(line_badge(page, "carol")).to_have_text("registered")
    expect(line_badge(page, "dave")).to_have_text("registered")

    # A third-party call from the form: carol's phone, then dave.
    page.get_by_label("From line").select_option("carol")
    page.get_by_label("To (line or SIP URI)").fill("dave")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(call_row(page, "carol", "connected")).to_have_count(1)
    expect(call_row(page, "dave", "connected")).to_have_count(1)
    screenshots(page, args.shots, "operations-connected")
    call_id = call_row(page, "carol").get_attribute("data-call-id")
    page.get_by_role("button", name="Drop call " + call_id).click()
    expect(page.locator("#calls tbody tr")).to_have_count(0)
    expect(page.locator('[data-empty-for="calls"]')).to_be_visible()
    step("dropped")

    # Events held back while carol calls bob (not registered): the page cannot know...
    socket.hold = True
    step("busy-call")
    page.wait_for_timeout(300)
    expect(call_row(page, "carol", "busy")).to_have_count(0)
    if socket.held == 0:
        raise AssertionError("no event was held back while carol called bob")
    # ...until a `lagged` message tells it that it missed some: notice, then a fresh read.
    socket.hold = False
    socket.route.send(json.dumps({"event": "lagged", "missed": socket.held}))
    notice = page.locator("#lagged")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("missed %d event" % socket.held)
    expect(call_row(page, "carol", "busy")).to_have_count(1)
    expect(page.locator('#timeline li[data-event="lagged"]')).to_have_count(1)
    screenshots(page, args.shots, "operations-lagged")
    page.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()

    # A request made from the console, cancelled from its queue.
    call_id = call_row(page, "carol", "busy").get_attribute("data-call-id")
    # Mode `message` asks which predefined text (carol's address's list).
    mode = page.get_by_label("Completion mode for call " + call_id)
    mode.focus()
    mode.select_option("message")
    texts = page.get_by_label("Message for call " + call_id)
    expect(texts).to_be_visible()
    expect(texts.locator("option")).to_have_count(
        len(page.evaluate("() => fetch('/v1/lines/carol').then((r) => r.json())")["caps"]["completion_messages"])
    )
    expect(mode).to_be_focused()  # re-rendering kept the keyboard focus where it was
    mode.select_option("callback")
    expect(texts).to_have_count(0)
    page.get_by_role("button", name="Complete call " + call_id).click()
    entry = page.locator('#queues .queue[data-target="bob"] tr[data-completion-id]')
    expect(entry).to_have_count(1)
    completion_id = entry.get_attribute("data-completion-id")
    page.get_by_role("button", name="Cancel completion " + completion_id).click()
    expect(entry).to_have_count(0)
    expect(page.locator("#timeline li").filter(has_text="completion " + completion_id + " carol → bob")
           .filter(has_text="cancelled")).to_have_count(1)
    expect(page.locator("#lines tr[data-line='carol'] [data-label='Completions']")).to_have_text(
        re.compile(r"^0 / ")
    )
    check_names(page)
    # The timeline filter keeps the entries that have every word.
    page.get_by_label("Filter events").fill("carol cancelled")
    shown = page.locator("#timeline li:visible")
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text("completion " + completion_id)
    expect(page.locator("#timeline-count")).to_contain_text("1 of ")
    page.get_by_label("Filter events").fill("")
    expect(page.locator("#timeline li:visible")).to_have_count(page.locator("#timeline li").count())
    # An operation the server refuses is reported, not swallowed: bob's phone is not registered.
    page.get_by_label("From line").select_option("bob")
    page.get_by_label("To (line or SIP URI)").fill("carol")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#announce")).to_contain_text("LINEERR_OPERATIONFAILED")


SCENARIOS = {"completion": completion, "operations": operations}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--shots", required=True)
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    failure_shot = os.path.join(args.shots, args.scenario + "-failure.png")
    if os.path.exists(failure_shot):
        os.remove(failure_shot)  # from an earlier run; it would mislead
    signal.alarm(RUN_LIMIT_S)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        problems = []
        page.on("pageerror", lambda e: problems.append("page error: %s" % e))
        page.on(
            "console",
            lambda m: problems.append("console %s: %s" % (m.type, m.text)) if m.type == "error" else None,
        )
        try:
            SCENARIOS[args.scenario](page, args)
            # Chromium logs every 401 (the wrong-token attempt), 404 (a call read just as it
            # went idle) and 502 (the refused third-party call) as a failed resource; the page
            # handles them. Anything else fails the run.
            expected = re.compile(r"Failed to load resource: .* status of (401|404|502)")
            unexpected = [p for p in problems if not expected.search(p)]
            if unexpected:
                raise AssertionError("the page reported errors:\n" + "\n".join(unexpected))
        except Exception:
            try:
                page.screenshot(path=failure_shot, full_page=True)
                sys.stderr.write("screenshot: %s\n" % failure_shot)
            except Exception as e:  # the page may be gone
                sys.stderr.write("no screenshot: %s\n" % e)
            traceback.print_exc()
            if problems:
                sys.stderr.write("page messages:\n" + "\n".join(problems) + "\n")
            sys.exit(1)
        finally:
            browser.close()
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
