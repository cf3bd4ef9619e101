"""Debian's Chromium, headless, driven over the Chrome DevTools Protocol on a pipe: no driver, no package.

`--remote-debugging-pipe` makes Chromium read NUL-terminated JSON commands on fd 3 and answer on fd 4, so
the standard library is the whole client. Every request the page makes is paused before it is sent (the
`Fetch` domain): file: and data: URLs go on, anything else is failed and recorded, so nothing leaves the
machine even when a page tries, and `remote_requests` shows what it tried. Host names do not resolve either
(`--host-resolver-rules`), and the browser's own background services are off.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

LOCAL_SCHEMES = ("file:", "data:")


def chromium_binary() -> str | None:
    """Debian's `chromium` on PATH, or None."""
    return shutil.which("chromium")


class Chromium:
    """One headless browser with one page; use as a context manager.

    Example:
        with Chromium(binary) as page:
            page.navigate(path.as_uri())
            page.click("th:nth-child(4) button")
            page.screenshot(tmp / "page.png")
    """

    def __init__(self, binary: str, width: int = 1360, height: int = 900, timeout: float = 20.0) -> None:
        self.binary, self.width, self.height, self.timeout = binary, width, height, timeout
        self.requests: list[str] = []  # every URL the page asked for, in order
        self.remote_requests: list[str] = []  # those that were not local, failed before they left
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="uniads-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child: its fds 3 and 4, whatever numbers the pipes got
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "--disable-gpu",
                 f"--window-size={self.width},{self.height}", "--hide-scrollbars", "--force-device-scale-factor=1",
                 "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND", "about:blank"]
        if os.geteuid() == 0:
            flags.insert(0, "--no-sandbox")  # Chromium's sandbox refuses root (CI runs as root)
        self._process = subprocess.Popen([self.binary, *flags], preexec_fn=wire_pipes, close_fds=False,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            targets = self.call("Target.getTargets", session=False)["targetInfos"]
            page = next(t["targetId"] for t in targets if t["type"] == "page")
            self._session = self.call("Target.attachToTarget", targetId=page, flatten=True, session=False)["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                self.call(f"{domain}.enable")
            self.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._process.poll() is None:
                self._send("Browser.close", {}, session=False)
                self._process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):  # already closed by the browser's exit
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _send(self, method: str, params: dict[str, Any], session: bool = True) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError(f"Chromium exited (code {self._process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        data = json.loads(message)
        if "method" in data:
            self._event(data)
        return data

    def _event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        params = event.get("params", {})
        if event["method"] == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif event["method"] == "Fetch.requestPaused":
            url = params["request"]["url"]
            if url.startswith(LOCAL_SCHEMES):
                self._send("Fetch.continueRequest", {"requestId": params["requestId"]})
            else:
                self.remote_requests.append(url)
                self._send("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "BlockedByClient"})

    def call(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events that arrive meanwhile are handled and kept)."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for_event(self, method: str, since: int = 0) -> dict[str, Any]:
        """The first event named `method` among those from index `since` on, waiting for it if needed."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = next((e for e in self.events[since:] if e["method"] == method), None)
            if found is not None:
                return found
            self._receive(deadline)

    def navigate(self, url: str) -> None:
        """Load `url` and wait for its load event (every image and script done)."""
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for_event("Page.loadEventFired", since)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the first element matching `selector`,
        scrolled into view first."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG at `path`."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path
