#!/usr/bin/env python3
"""Drives an already running headless Chromium through the DevTools protocol.

Usage: cdp.py DEVTOOLS_PORT STEPS_JSON

STEPS_JSON is a list of steps, run in order on the browser's first page:
  {"navigate": URL}                 load URL and wait for the load event
  {"wait": SECONDS}                 let the page (and its scripts, if any) run
  {"click": CSS_SELECTOR}           a real mouse click (press and release) at the element's centre,
                                    then wait for the navigation it causes
  {"screenshot": PATH}              save a PNG of the page
  {"text": true}                    record document.body.innerText
  {"exists": CSS_SELECTOR}          record whether the element exists
  {"script": JAVASCRIPT}            evaluate an expression in the page (what a scanner or an attacker's
                                    script can do) and record its value

Prints one JSON object: {"results": [...]} with one entry per step. Standard library only: the
WebSocket client below speaks just enough of RFC 6455 for the DevTools protocol.
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


class WebSocket:
    def __init__(self, url):
        assert url.startswith("ws://")
        host_port, _, path = url[5:].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake failed")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))

    def send(self, text):
        payload = text.encode()
        header = bytearray([0x81])
        length = len(payload)
        if length < 126:
            header.append(0x80 | length)
        elif length < 65536:
            header.append(0x80 | 126)
            header += struct.pack(">H", length)
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", length)
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if first & 0x80:
                return message.decode()


class Page:
    def __init__(self, port):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for index, message in enumerate(self.events):
                if message.get("method") == event:
                    del self.events[: index + 1]
                    return message
            self.ws.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                self.events.append(json.loads(self.ws.receive()))
            except socket.timeout:
                break
            finally:
                self.ws.sock.settimeout(60)
        raise RuntimeError(f"timed out waiting for {event}")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


def main():
    port, steps = sys.argv[1], json.loads(sys.argv[2])
    page = Page(port)
    results = []
    for step in steps:
        if "navigate" in step:
            page.events.clear()
            page.call("Page.navigate", url=step["navigate"])
            page.wait_for("Page.loadEventFired")
            results.append({"url": page.evaluate("location.href")})
        elif "wait" in step:
            time.sleep(float(step["wait"]))
            results.append({"url": page.evaluate("location.href")})
        elif "click" in step:
            box = page.evaluate(
                "(() => { const e = document.querySelector(%s); if (!e) return null; e.scrollIntoView({block: 'center'});"
                " const r = e.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
                % json.dumps(step["click"])
            )
            if box is None:
                raise RuntimeError(f"no element {step['click']}")
            page.events.clear()
            for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                page.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)
            page.wait_for("Page.loadEventFired")
            results.append({"url": page.evaluate("location.href")})
        elif "screenshot" in step:
            data = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
            os.makedirs(os.path.dirname(step["screenshot"]), exist_ok=True)
            with open(step["screenshot"], "wb") as file:
                file.write(base64.b64decode(data))
            results.append({"bytes": len(data)})
        elif "text" in step:
            results.append({"text": page.evaluate("document.body.innerText")})
        elif "script" in step:
            results.append({"value": page.evaluate(step["script"])})
        elif "exists" in step:
            results.append({"exists": page.evaluate("!!document.querySelector(%s)" % json.dumps(step["exists"]))})
        else:
            raise RuntimeError(f"unknown step {step}")
    print(json.dumps({"results": results}))


if __name__ == "__main__":
    main()
