#!/usr/bin/python3
"""Operations the VM scenarios (tests/vm/scenarios.sh) perform inside a guest
whose outcome the shell cannot observe precisely, and the checks of polrt's
JSON lines.

Each operation prints its outcome as one word: `ok` or `connected` when it
succeeded, else the errno name (`EPERM`, `ECONNREFUSED`, ...). A task the
kernel kills prints nothing and dies of SIGKILL (exit status 137 in the shell).

Usage:
  ops.py connect PORT          listen on 127.0.0.1:PORT, then connect to it
  ops.py finit_module PATH     finit_module(2) on PATH (not a module)
  ops.py init_module PATH      init_module(2) with the bytes of PATH
  ops.py events FILE KEY=VALUE...
      print the number of events in FILE (polrt --format json) whose KEYs
      all have VALUE; `fields.NAME` is a captured field, anything else a
      top-level key
  ops.py backends FILE         print `HOOK BACKEND PROGRAM_ID...` per hook
"""

import ctypes
import errno
import json
import os
import socket
import sys

NR_INIT_MODULE = 175  # x86_64
NR_FINIT_MODULE = 313  # x86_64


def errno_name(number):
    return errno.errorcode.get(number, str(number))


def connect(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.connect(("127.0.0.1", port))
    except OSError as error:
        return errno_name(error.errno)
    accepted, _ = listener.accept()
    accepted.close()
    client.close()
    listener.close()
    return "connected"


def syscall(number, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(ctypes.c_long(number), *args) == 0:
        return "ok"
    return errno_name(ctypes.get_errno())


def finit_module(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return syscall(NR_FINIT_MODULE, ctypes.c_int(fd), ctypes.c_char_p(b""), ctypes.c_int(0))
    finally:
        os.close(fd)


def init_module(path):
    with open(path, "rb") as file:
        data = file.read()
    buf = ctypes.create_string_buffer(data, len(data))
    return syscall(NR_INIT_MODULE, buf, ctypes.c_ulong(len(data)), ctypes.c_char_p(b""))


def records(path):
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if line:
                yield json.loads(line)


def lookup(record, key):
    if key.startswith("fields."):
        value = record.get("fields", {}).get(key[len("fields."):])
    else:
        value = record.get(key)
    return None if value is None else str(value)


def events(path, conditions):
    wanted = [condition.split("=", 1) for condition in conditions]
    count = 0
    for record in records(path):
        if record.get("type") == "event" and all(lookup(record, k) == v for k, v in wanted):
            count += 1
    return str(count)


def backends(path):
    lines = []
    for record in records(path):
        if record.get("type") == "backend":
            ids = " ".join(str(p["id"]) for p in record.get("programs", []))
            lines.append(f"{record['hook']} {record['backend']} {ids}")
    return "\n".join(lines)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    op, args = argv[1], argv[2:]
    if op == "connect":
        print(connect(int(args[0])))
    elif op == "finit_module":
        print(finit_module(args[0]))
    elif op == "init_module":
        print(init_module(args[0]))
    elif op == "events":
        print(events(args[0], args[1:]))
    elif op == "backends":
        print(backends(args[0]))
    else:
        sys.exit(f"ops.py: unknown operation {op}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
