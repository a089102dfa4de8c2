#!/usr/bin/env python3
"""pyftpdlib server for phiscan's interop script and FTP benchmark.

Read-only anonymous server on 127.0.0.1 serving DIR. Modes:
  plain     pyftpdlib as shipped (MLSD, Unix-style LIST)
  dos       LIST only (no MLST/MLSD in FEAT), LIST lines in DOS/IIS style
  delay     threaded server that waits DELAY_MS before every reply, like a
            server one round trip away
  epsv-refused
            EPSV in FEAT but refused (502), as behind some firewalls; PASV
            replies name 127.0.0.2 (a NAT address) while the data port is
            on 127.0.0.1: a client must connect to the server's own address
"""
import argparse
import os
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer, ThreadedFTPServer


class DosFS(AbstractedFS):
    """LIST output as IIS writes it: `MM-DD-YY  HH:MMAM  <DIR>|size  name`."""

    def format_list(self, basedir, listing, ignore_err=True):
        for basename in listing:
            path = os.path.join(basedir, basename)
            try:
                st = self.lstat(path)
            except OSError:
                if ignore_err:
                    continue
                raise
            stamp = time.strftime("%m-%d-%y  %I:%M%p", time.gmtime(st.st_mtime))
            if self.isdir(path):
                line = "%s       <DIR>          %s\r\n" % (stamp, basename)
            else:
                line = "%s %20d %s\r\n" % (stamp, st.st_size, basename)
            yield line.encode("utf8", self.cmd_channel.unicode_errors)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["plain", "dos", "delay", "epsv-refused"], default="plain")
    p.add_argument("--delay-ms", type=float, default=20.0)
    p.add_argument("--passive", default="30600-30700")
    args = p.parse_args()

    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.dir)

    attrs = {"authorizer": authorizer, "banner": "pyftpdlib %s mode" % args.mode}
    lo, hi = (int(x) for x in args.passive.split("-"))
    attrs["passive_ports"] = range(lo, hi + 1)
    if args.mode == "dos":
        attrs["abstracted_fs"] = DosFS
        attrs["proto_cmds"] = {
            k: v for k, v in FTPHandler.proto_cmds.items() if k not in ("MLSD", "MLST")
        }
    if args.mode == "delay":
        delay = args.delay_ms / 1000.0

        def respond(self, resp, logfun=None):
            time.sleep(delay)
            if logfun is None:
                return FTPHandler.respond(self, resp)
            return FTPHandler.respond(self, resp, logfun)

        attrs["respond"] = respond
    if args.mode == "epsv-refused":

        def ftp_EPSV(self, line):
            self.respond("502 EPSV disabled here.")

        attrs["ftp_EPSV"] = ftp_EPSV
        attrs["masquerade_address"] = "127.0.0.2"
    handler = type("Handler", (FTPHandler,), attrs)
    server_class = ThreadedFTPServer if args.mode == "delay" else FTPServer
    server = server_class(("127.0.0.1", args.port), handler)
    server.max_cons = 256
    server.serve_forever()


if __name__ == "__main__":
    main()
