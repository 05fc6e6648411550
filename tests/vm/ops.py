#!/usr/bin/python3
"""Operations the VM scenarios (tests/vm/scenarios.sh) perform inside a guest
whose outcome the shell cannot observe precisely, and the checks of polrt's
JSON lines.

Each operation prints its outcome as one word: `ok` or `connected` when it
succeeded, else the errno name (`EPERM`, `ECONNREFUSED`, ...). A task the
kernel kills prints nothing and dies of SIGKILL (exit status 137 in the shell).

Usage:
  ops.py connect PORT          listen on 127.0.0.1:PORT, then connect to it
  ops.py bind PORT             bind a TCP socket to 127.0.0.1:PORT
  ops.py bpf_map_create        bpf(BPF_MAP_CREATE) of a one-entry array
  ops.py obj_get PATH          bpf(BPF_OBJ_GET) of a pinned object
  ops.py prog_fd ID            bpf(BPF_PROG_GET_FD_BY_ID)
  ops.py link_detach ID        bpf(BPF_LINK_GET_FD_BY_ID), then
                               bpf(BPF_LINK_DETACH): the errno of the first
                               that fails
  ops.py status_ids FILE PROGRAM
                               print `PROGRAM_ID LINK_ID` of PROGRAM from
                               `polrt status --format json` output in FILE
  ops.py finit_module PATH     finit_module(2) on PATH (not a module)
  ops.py init_module PATH      init_module(2) with the bytes of PATH
  ops.py events FILE KEY=VALUE...
      print the number of events in FILE (polrt --format json) whose KEYs
      all have VALUE; `fields.NAME` is a captured field, anything else a
      top-level key
  ops.py backends FILE         print `HOOK BACKEND PROGRAM_ID...` per hook
  ops.py connect_flood PORT STOP
                               listen on 127.0.0.1:PORT and connect to it
                               over and over until the file STOP exists;
                               print `OUTCOME=COUNT` per outcome, sorted
"""

import ctypes
import errno
import json
import os
import socket
import sys
import time

NR_INIT_MODULE = 175  # x86_64
NR_FINIT_MODULE = 313  # x86_64
NR_BPF = 321  # x86_64
BPF_MAP_CREATE = 0
BPF_OBJ_GET = 7
BPF_PROG_GET_FD_BY_ID = 13
BPF_LINK_GET_FD_BY_ID = 30
BPF_LINK_DETACH = 34
BPF_MAP_TYPE_ARRAY = 2


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


def connect_flood(port, stop):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    listener.setblocking(False)
    outcomes = {}
    while not os.path.exists(stop):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            client.connect(("127.0.0.1", port))
            outcome = "connected"
        except OSError as error:
            outcome = errno_name(error.errno)
        client.close()
        try:
            listener.accept()[0].close()
        except BlockingIOError:
            pass
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # A steady flood, not a busy loop: the guest's one emulated CPU
        # also compiles and verifies the reloaded policy.
        time.sleep(0.001)
    listener.close()
    return " ".join(f"{k}={v}" for k, v in sorted(outcomes.items()))


def bind(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        return errno_name(error.errno)
    finally:
        sock.close()
    return "ok"


def raw_syscall(number, *args):
    """The syscall's return value, or -errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(ctypes.c_long(number), *args)
    return -ctypes.get_errno() if ret < 0 else ret


def syscall(number, *args):
    ret = raw_syscall(number, *args)
    return "ok" if ret == 0 else errno_name(-ret)


def bpf_map_create():
    # union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size,
    # max_entries (u32 each), the rest zero.
    attr = ctypes.create_string_buffer(128)
    for index, value in enumerate([BPF_MAP_TYPE_ARRAY, 4, 4, 1]):
        ctypes.c_uint32.from_buffer(attr, 4 * index).value = value
    ret = raw_syscall(NR_BPF, ctypes.c_int(BPF_MAP_CREATE), attr, ctypes.c_uint(128))
    if ret < 0:
        return errno_name(-ret)
    os.close(ret)
    return "ok"


def bpf(command, attr):
    """bpf(2) with attribute buffer `attr`: the new fd (closed) as "ok", or
    the errno name."""
    ret = raw_syscall(NR_BPF, ctypes.c_int(command), attr, ctypes.c_uint(len(attr)))
    if ret < 0:
        return errno_name(-ret)
    os.close(ret)
    return "ok"


def obj_get(path):
    name = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint64.from_buffer(attr, 0).value = ctypes.addressof(name)
    return bpf(BPF_OBJ_GET, attr)


def prog_fd(prog_id):
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint32.from_buffer(attr, 0).value = prog_id
    return bpf(BPF_PROG_GET_FD_BY_ID, attr)


def link_detach(link_id):
    attr = ctypes.create_string_buffer(128)
    ctypes.c_uint32.from_buffer(attr, 0).value = link_id
    fd = raw_syscall(NR_BPF, ctypes.c_int(BPF_LINK_GET_FD_BY_ID), attr, ctypes.c_uint(128))
    if fd < 0:
        return errno_name(-fd)
    try:
        detach = ctypes.create_string_buffer(128)
        ctypes.c_uint32.from_buffer(detach, 0).value = fd
        ret = raw_syscall(NR_BPF, ctypes.c_int(BPF_LINK_DETACH), detach, ctypes.c_uint(128))
        return "ok" if ret == 0 else errno_name(-ret)
    finally:
        os.close(fd)


def status_ids(path, program):
    with open(path, encoding="utf-8") as file:
        policies = json.load(file)
    for policy in policies:
        for entry in policy.get("programs", []):
            if entry.get("symbol") == program:
                return f"{entry.get('id')} {entry.get('link_id')}"
    return "none"


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
    if len(argv) < 2:
        sys.exit(__doc__)
    op, args = argv[1], argv[2:]
    if op == "connect":
        print(connect(int(args[0])))
    elif op == "connect_flood":
        print(connect_flood(int(args[0]), args[1]))
    elif op == "bind":
        print(bind(int(args[0])))
    elif op == "bpf_map_create":
        print(bpf_map_create())
    elif op == "obj_get":
        print(obj_get(args[0]))
    elif op == "prog_fd":
        print(prog_fd(int(args[0])))
    elif op == "link_detach":
        print(link_detach(int(args[0])))
    elif op == "status_ids":
        print(status_ids(args[0], args[1]))
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
