#!/usr/bin/python3
"""The workload of tests/e2e_hooks.rs: one operation per hook, each on
files of the work directory given as argv[1], or on tasks, sockets and
namespaces of its own; prints one JSON object with the values the kernel
assigned (pids, ports, capability sets) for the test to compare the events
with.

Safe on a shared host: files are made and changed under the work directory
only, the mount is a tmpfs in a private mount namespace of a child, the
namespace and identity changes happen in children that exit at once, the
traced and signalled task is a `sleep` of its own, sockets listen on
127.0.0.1 only.
"""

import ctypes
import json
import mmap
import os
import socket
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]

work = sys.argv[1]
out = {}


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        sys.exit(f"{what}: {os.strerror(err)}")
    return result


def in_child(body):
    """Runs body() in a forked child that exits with its status."""
    pid = os.fork()
    if pid == 0:
        try:
            body()
        except BaseException as e:  # noqa: BLE001 - report and exit
            print(f"child: {e}", file=sys.stderr)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(f"child failed with status {status}")
    return pid


def path(name):
    return os.path.join(work, name)


# Files: unlink, rename, link, symlink, mkdir, rmdir.
for name in ("unlinked", "renamed", "linked"):
    with open(path(name), "w") as f:
        f.write("polc\n")
os.unlink(path("unlinked"))
os.rename(path("renamed"), path("renamed.new"))
os.link(path("linked"), path("linked.new"))
os.symlink("/etc/shadow", path("shadow-link"))
os.mkdir(path("dir"), 0o700)
os.rmdir(path("dir"))

# chmod by name (setuid bit) and by descriptor; chown by name and by
# descriptor; truncate by name and by descriptor.
changed = path("changed")
with open(changed, "w") as f:
    f.write("polc\n")
os.chmod(changed, 0o4755)
fd = os.open(changed, os.O_RDWR)
os.fchmod(fd, 0o644)
os.chown(changed, 4321, 4322)
os.fchown(fd, 0, -1)
os.truncate(changed, 1)
os.ftruncate(fd, 0)
os.close(fd)

# Executable memory: a memfd mapped PROT_EXEC, anonymous memory mapped
# PROT_EXEC, anonymous memory made executable by mprotect.
memfd = os.memfd_create("polc-hooks")
os.write(memfd, b"\0" * 4096)
code = mmap.mmap(memfd, 4096, flags=mmap.MAP_SHARED,
                 prot=mmap.PROT_READ | mmap.PROT_EXEC)
code.close()
os.close(memfd)
anon = libc.mmap(None, 4096, 7, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
if anon in (None, ctypes.c_void_p(-1).value):
    sys.exit("anonymous mmap failed")
data = libc.mmap(None, 4096, 3, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
check(libc.mprotect(data, 4096, 5), "mprotect")

# Processes: seize a sleep of our own with ptrace, kill it.
sleeper = subprocess.Popen(["sleep", "30"])
out["sleeper"] = sleeper.pid
check(libc.ptrace(0x4206, sleeper.pid, None, None), "ptrace(PTRACE_SEIZE)")
os.kill(sleeper.pid, 9)
sleeper.wait()


def drop_ids():
    os.setresgid(1234, 1235, 1234)
    os.setresuid(4321, 4322, 4321)


in_child(drop_ids)


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_sys_admin():
    header = CapHeader(0x20080522, 0)
    caps = (CapData * 2)()
    check(libc.capget(ctypes.byref(header), caps), "capget")
    caps[0].effective &= ~(1 << 21)
    check(libc.capset(ctypes.byref(header), caps), "capset")

    def value(field):
        return getattr(caps[0], field) | (getattr(caps[1], field) << 32)

    with open(path("caps.json"), "w") as f:
        json.dump({f: value(f) for f in ("effective", "permitted", "inheritable")}, f)


in_child(drop_sys_admin)
with open(path("caps.json")) as f:
    out["caps"] = json.load(f)

# Namespaces: a child unshares its UTS namespace.
in_child(lambda: check(libc.unshare(0x04000000), "unshare(CLONE_NEWUTS)"))

# Mounts: a child in a private mount namespace mounts a tmpfs and unmounts
# it (MS_NOSUID: 2).
os.mkdir(path("mnt"))


def mount_tmpfs():
    check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, 0x4000 | 0x40000, None), "mount private")
    check(libc.mount(b"polc-hooks", path("mnt").encode(), b"tmpfs", 2, None), "mount")
    check(libc.umount2(path("mnt").encode(), 0), "umount2")


in_child(mount_tmpfs)

# Network: listen on 127.0.0.1, accept one connection; a raw ICMP socket.
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(1)
out["port"] = server.getsockname()[1]
client = socket.create_connection(("127.0.0.1", out["port"]))
out["client_port"] = client.getsockname()[1]
conn, _ = server.accept()
conn.close()
client.close()
server.close()
socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()

print(json.dumps(out))
