#!/usr/bin/python3
"""rss-connections.py PID HOST PORT [N] — open N (1000) idle HTTP/2 connections
to bill-server (each sends the h2 preface + SETTINGS, so the server has set up
its nghttp2 session), then print the server's RSS from /proc/PID/status."""
import socket
import sys
import time

pid, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
preface = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\x00\x00\x00\x04\x00\x00\x00\x00\x00'


def rss():
    for ln in open('/proc/%d/status' % pid):
        if ln.startswith('VmRSS'):
            return ln.split(':')[1].strip()


print('RSS before:', rss())
socks = []
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(preface)
    socks.append(s)
time.sleep(2)
print('RSS with %d open HTTP/2 connections:' % n, rss())
for s in socks:
    s.close()
