#!/usr/bin/env python3
"""An SMTP server for Cairn's e-mail tests (Python's aiosmtpd): listens on a free loopback
port, optionally offers STARTTLS with a given certificate and AUTH PLAIN/LOGIN for one
user, and writes each message it accepts to OUT_DIR/NNNN.json: the envelope, the EHLO name,
whether the session was under TLS and authenticated, the raw data, and the message parsed
by Python's `email` package (decoded headers, and each leaf MIME part decoded).

Prints `READY <port>` on stdout once listening; exits when its stdin closes (the test that
started it is gone) or on SIGTERM. `scripts/setup.sh smtp` installs aiosmtpd.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import threading

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:
    print("aiosmtpd is not installed: run scripts/setup.sh smtp", file=sys.stderr)
    sys.exit(3)


class Sink:
    def __init__(self, out_dir, fail_first, fail_reply):
        self.out_dir = out_dir
        self.failures_left = fail_first
        self.fail_reply = fail_reply
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        # Transient failures first, to test the sender's retries.
        if self.failures_left > 0:
            self.failures_left -= 1
            return self.fail_reply
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "body": part.get_content(),
            })
        login = getattr(session.auth_data, "login", None)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "helo": session.host_name,
            "tls": session.ssl is not None,
            "auth_user": login.decode() if isinstance(login, bytes) else login,
            "auth_mechanism": getattr(session, "cairn_mechanism", None),
            "content_type": msg.get_content_type(),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "parts": parts,
            "data": raw.decode("utf-8", "replace"),
        }
        self.count += 1
        path = os.path.join(self.out_dir, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        # Whole files only: the test reads the directory while we write.
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: queued"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--cert", help="PEM certificate (with --key): offer STARTTLS")
    ap.add_argument("--key")
    ap.add_argument("--user", help="with --password: offer AUTH PLAIN/LOGIN for this user")
    ap.add_argument("--password")
    ap.add_argument("--fail-first", type=int, default=0,
                    help="answer the first N messages' DATA with --fail-reply")
    ap.add_argument("--fail-reply", default="451 4.3.0 Try again later")
    args = ap.parse_args()

    tls_context = None
    if args.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        if ok:
            session.cairn_mechanism = mechanism
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    sink = Sink(args.out_dir, args.fail_first, args.fail_reply)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(
            sink,
            hostname="sink.test",
            tls_context=tls_context,
            authenticator=authenticator if args.user else None,
            # AUTH only after STARTTLS when the sink has TLS; offered in the clear otherwise.
            auth_require_tls=tls_context is not None,
            decode_data=False,
            enable_SMTPUTF8=True,
            loop=loop,
        )

    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)

    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
