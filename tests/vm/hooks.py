#!/usr/bin/python3
"""Operations of the hook scenarios (tests/vm/scenarios.sh, hooks-start ...
hooks-stop) inside a guest: one per invocation, on the files under the
directory the policy tests/vm/policies/lsm_hooks.pol names.

Each prints its outcome as one word, `ok` or the errno name (`EPERM`, ...);
a task the kernel kills prints nothing and dies of SIGKILL (exit status 137
in the shell). Operations that need a task to act on (ptrace, signal) start a
`sleep` of their own and kill it afterwards.

Usage: hooks.py OP ARGS...
  unlink PATH | rename OLD NEW | link OLD NEW | symlink TARGET PATH
  mkdir PATH MODE | rmdir PATH | chmod PATH MODE | chown PATH UID GID
  truncate PATH | ftruncate PATH | memfd_exec | mprotect_exec
  ptrace | signal SIG | setuid EUID | setgid EGID | capset_inheritable
  unshare_uts | mount SOURCE TARGET FSTYPE | umount TARGET
  listen PORT | accept PORT | socket FAMILY TYPE PROTOCOL
"""

import ctypes
import errno
import mmap
import os
import socket
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


class Failed(Exception):
    pass


def check(result):
    if result < 0:
        raise Failed(ctypes.get_errno())


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def with_sleeper(body):
    sleeper = subprocess.Popen(["sleep", "5"])
    # Act once the child is `sleep` (the rules test target.comm), not the
    # python3 it is between fork and exec.
    for _ in range(500):
        with open("/proc/%d/comm" % sleeper.pid) as comm:
            if comm.read().strip() == "sleep":
                break
        time.sleep(0.01)
    try:
        body(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()


def run(op, args):
    if op == "unlink":
        os.unlink(args[0])
    elif op == "rename":
        os.rename(args[0], args[1])
    elif op == "link":
        os.link(args[0], args[1])
    elif op == "symlink":
        os.symlink(args[0], args[1])
    elif op == "mkdir":
        os.mkdir(args[0], int(args[1], 8))
    elif op == "rmdir":
        os.rmdir(args[0])
    elif op == "chmod":
        os.chmod(args[0], int(args[1], 8))
    elif op == "chown":
        os.chown(args[0], int(args[1]), int(args[2]))
    elif op == "truncate":
        os.truncate(args[0], 0)
    elif op == "ftruncate":
        fd = os.open(args[0], os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    elif op == "memfd_exec":
        fd = os.memfd_create("polc-vm")
        os.write(fd, b"\0" * 4096)
        mmap.mmap(fd, 4096, flags=mmap.MAP_SHARED,
                  prot=mmap.PROT_READ | mmap.PROT_EXEC).close()
    elif op == "mprotect_exec":
        page = libc.mmap(None, 4096, 3, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        check(libc.mprotect(page, 4096, 5))
    elif op == "ptrace":
        with_sleeper(lambda pid: check(libc.ptrace(0x4206, pid, None, None)))
    elif op == "signal":
        with_sleeper(lambda pid: os.kill(pid, int(args[0])))
    elif op == "setuid":
        os.setresuid(-1, int(args[0]), -1)
    elif op == "setgid":
        os.setresgid(-1, int(args[0]), -1)
    elif op == "capset_inheritable":
        header = CapHeader(0x20080522, 0)
        caps = (CapData * 2)()
        check(libc.capget(ctypes.byref(header), caps))
        caps[0].inheritable |= 1 << 21
        check(libc.capset(ctypes.byref(header), caps))
    elif op == "unshare_uts":
        check(libc.unshare(0x04000000))
    elif op == "mount":
        check(libc.mount(args[0].encode(), args[1].encode(), args[2].encode(), 2, None))
        check(libc.umount2(args[1].encode(), 0))
    elif op == "umount":
        check(libc.umount2(args[0].encode(), 0))
    elif op in ("listen", "accept"):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(args[0])))
        server.listen(1)
        if op == "accept":
            client = socket.create_connection(("127.0.0.1", int(args[0])))
            server.accept()[0].close()
            client.close()
        server.close()
    elif op == "socket":
        socket.socket(int(args[0]), int(args[1]), int(args[2])).close()
    else:
        sys.exit(f"hooks.py: unknown operation {op}")


def main():
    try:
        run(sys.argv[1], sys.argv[2:])
    except (OSError, Failed) as e:
        number = e.errno if isinstance(e, OSError) else e.args[0]
        print(errno.errorcode.get(number, str(number)))
        return
    print("ok")


main()
