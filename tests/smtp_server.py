#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for the test suite.

Listens on 127.0.0.1:PORT and stores every accepted message in OUTDIR as
`<n>.eml` (raw) and `<n>.json` (decoded with Python's email package: Message-ID,
subject, text and HTML parts, attachments). Recipients choose failures:
  reject...@          -> 550 at RCPT (permanent)
  tempfail-once...@   -> 451 the first time, accepted afterwards
  tempfail...@        -> 451 always
Prints READY when listening; stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import base64
import email
import email.policy
import json
import os
import signal
import threading
import time

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir, delay):
        self.outdir = outdir
        self.delay = delay
        self.count = 0
        self.tempfailed = set()
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable"
        if local.startswith("tempfail-once"):
            with self.lock:
                first = address not in self.tempfailed
                self.tempfailed.add(address)
            if first:
                return "451 4.3.0 Temporary failure, try again later"
        elif local.startswith("tempfail"):
            return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        attachments = []
        for part in msg.iter_attachments():
            attachments.append({
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "content_b64": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
            })
        info = {
            "message_id": msg["message-id"],
            "subject": str(msg["subject"]),
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "auto_submitted": msg["auto-submitted"],
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": attachments,
        }
        with self.lock:
            self.count += 1
            name = f"{time.time_ns()}-{self.count:06d}"
        base = os.path.join(self.outdir, name)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(info, f, ensure_ascii=False)
        os.replace(base + ".eml.tmp", base + ".eml")
        os.replace(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--outdir", required=True)
    p.add_argument("--delay", type=float, default=0.0)
    args = p.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    controller = Controller(Handler(args.outdir, args.delay), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("READY", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
