#!/usr/bin/python3
"""The bypass suite's techniques: every way an attacker who has read the
policy (tests/bypass/bypass.pol) might reach a denied file, program, port or
system call by another road than the one a rule names. Run by the host
kernel test (tests/e2e_bypass.rs) and by the VM scenarios
(tests/vm/scenarios.sh), inside the policy's test cgroup.

Each technique runs in a child process and prints one JSON line:
  {"technique": NAME, "pid": CHILD_PID, "outcome": OUTCOME}
where OUTCOME is
  "killed"       the child died of SIGKILL (the fallback's deny)
  "ran"          a denied program ran (exit status 0 from /bin/true's copy)
  "opened"       a denied file was opened and read
  "sent"         a datagram or connection went out
  "ok"           a harmless call succeeded
  an errno name  the call failed, e.g. "EPERM" (the lsm/cgroup deny)
  "exit N"       anything else

Usage:
  bypass.py setup DIR          make DIR's victim, secret, links, scripts
  bypass.py run DIR PORT [TECHNIQUE...]   run techniques (default: all)
  bypass.py check-lsm DIR PORT OUTCOMES EVENTS
      check the outcomes `run` printed (file OUTCOMES) and polrt's JSON
      lines (file EVENTS) against what BPF LSM must do; print one line per
      technique, exit 1 if any differs
  bypass.py list               print every technique's name
"""

import ctypes
import errno
import json
import mmap
import os
import signal
import socket
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
LIBC.mmap.restype = ctypes.c_void_p

NR_EXECVEAT = 322
NR_OPENAT2 = 437
NR_NAME_TO_HANDLE_AT = 303
NR_OPEN_BY_HANDLE_AT = 304
NR_MEMFD_CREATE = 319
NR_RENAMEAT2 = 316
AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400
RENAME_EXCHANGE = 2
AT_EMPTY_PATH = 0x1000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
CLONE_NEWNS = 0x20000
MSG_FASTOPEN = 0x20000000
LD_SO = "/lib64/ld-linux-x86-64.so.2"

# 32-bit (int 0x80) system call numbers.
IA32_EXECVE = 11
IA32_OPEN = 5
IA32_BPF = 357
IA32_RT_SIGPROCMASK = 175
IA32_FINIT_MODULE = 350
IA32_RENAME = 38
IA32_CHMOD = 15
IA32_SOCKET = 359

# Exit statuses a child uses to report an errno (ERRNO_BASE + errno; a
# program's own status, e.g. the dynamic loader's 127, stays below).
ERRNO_BASE = 140


def errno_name(number):
    return errno.errorcode.get(number, str(number))


def check(ret):
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def cstr(text):
    return ctypes.c_char_p(text.encode())


def argv_array(args):
    array = (ctypes.c_char_p * (len(args) + 1))()
    for i, arg in enumerate(args):
        array[i] = arg.encode()
    array[len(args)] = None
    return array


# --- 32-bit system calls from this 64-bit process -------------------------
#
# `int 0x80` takes 32-bit pointers: a page at a low fixed address holds the
# code and its data.

LOW_PAGE = 0x10000


def ia32_call(nr, strings=(), ints=()):
    """Makes 32-bit system call `nr`: its arguments are the low-page
    addresses of `strings` (NUL-terminated), then `ints`. Returns its result
    (negative errno)."""
    addr = LIBC.mmap(
        ctypes.c_void_p(LOW_PAGE),
        ctypes.c_size_t(4096),
        ctypes.c_int(7),  # PROT_READ | PROT_WRITE | PROT_EXEC
        ctypes.c_int(0x32),  # MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
        ctypes.c_int(-1),
        ctypes.c_long(0),
    )
    if addr != LOW_PAGE:
        raise OSError(ctypes.get_errno(), "mmap of the low page")
    data = LOW_PAGE + 256
    args = []
    for text in strings:
        raw = text.encode() + b"\0"
        ctypes.memmove(data, raw, len(raw))
        args.append(data)
        data += len(raw) + 8
    args.extend(ints)
    args += [0] * (3 - len(args))
    code = (
        b"\xb8" + struct.pack("<I", nr)
        + b"\xbb" + struct.pack("<I", args[0] & 0xFFFFFFFF)
        + b"\xb9" + struct.pack("<I", args[1] & 0xFFFFFFFF)
        + b"\xba" + struct.pack("<I", args[2] & 0xFFFFFFFF)
        + b"\xcd\x80\xc3"  # int 0x80; ret
    )
    ctypes.memmove(LOW_PAGE, code, len(code))
    func = ctypes.CFUNCTYPE(ctypes.c_int)(LOW_PAGE)
    return func()


# --- setup ----------------------------------------------------------------


def setup(work):
    os.makedirs(work, exist_ok=True)
    os.makedirs(os.path.join(work, "sub"), exist_ok=True)
    os.makedirs(os.path.join(work, "mnt"), exist_ok=True)
    victim = os.path.join(work, "victim")
    with open("/bin/true", "rb") as source, open(victim, "wb") as target:
        target.write(source.read())
    os.chmod(victim, 0o755)
    with open(os.path.join(work, "secret"), "w") as secret:
        secret.write("not to be read\n")
    for name, target in [("victim-link", victim), ("secret-link", os.path.join(work, "secret"))]:
        path = os.path.join(work, name)
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(target, path)
    for name, target in [("victim-hard", victim), ("secret-hard", os.path.join(work, "secret"))]:
        path = os.path.join(work, "sub", name)
        if os.path.lexists(path):
            os.unlink(path)
        os.link(target, path)
    scripts = {
        # A script whose interpreter is the denied program.
        "via-victim.sh": "#!%s\n" % victim,
        # A script the policy denies by its own path, run by /bin/sh.
        "denied.sh": "#!/bin/sh\nexit 0\n",
    }
    for name, text in scripts.items():
        path = os.path.join(work, name)
        with open(path, "w") as script:
            script.write(text)
        os.chmod(path, 0o755)
    # A file holding the secret's path, mapped but never touched before open.
    with open(os.path.join(work, "secret-name"), "wb") as name:
        name.write(os.path.join(work, "secret").encode() + b"\0")
    # A program directory with a file to move away or replace, a decoy to
    # exchange it with, a file to set the set-user-ID bit on.
    os.makedirs(os.path.join(work, "bin"), exist_ok=True)
    for name in ("bin/tool", "decoy", "setid-target"):
        with open(os.path.join(work, name), "w") as file:
            file.write("polc\n")
        os.chmod(os.path.join(work, name), 0o644)
    # Not a module: the kernel refuses it if a load gets that far.
    with open(os.path.join(work, "not-a-module.ko"), "wb") as module:
        module.write(b"\0" * 4096)


# --- techniques ---------------------------------------------------------------
#
# Each runs in the child; it returns normally when the operation succeeded
# (the child then exits 0 with OUTCOME "ran"/"opened"/...), raises OSError
# when it failed, or never returns (exec).


def exec_path(path, argv=None):
    os.execv(path, argv or [path])


def execveat(dirfd, path, flags):
    args = argv_array([path or "victim"])
    envp = argv_array([])
    check(LIBC.syscall(ctypes.c_long(NR_EXECVEAT), ctypes.c_int(dirfd), cstr(path), args, envp, ctypes.c_int(flags)))


def read_open(fd):
    os.read(fd, 1)
    os.close(fd)


def technique_table(work, port):
    victim = os.path.join(work, "victim")
    secret = os.path.join(work, "secret")
    base = os.path.basename(work)

    def exec_relative():
        os.chdir(work)
        exec_path("./victim")

    def exec_dirfd():
        execveat(os.open(work, os.O_RDONLY | os.O_DIRECTORY), "victim", 0)

    def exec_empty_path():
        execveat(os.open(victim, os.O_RDONLY), "", AT_EMPTY_PATH)

    def exec_fexecve():
        os.execve(os.open(victim, os.O_RDONLY), ["victim"], {})

    def exec_proc_fd():
        fd = os.open(victim, os.O_RDONLY)
        exec_path("/proc/self/fd/%d" % fd, ["victim"])

    def exec_memfd():
        fd = check(LIBC.syscall(ctypes.c_long(NR_MEMFD_CREATE), cstr("payload"), ctypes.c_uint(0)))
        with open(victim, "rb") as source:
            os.write(fd, source.read())
        os.execve(fd, ["payload"], {})

    def exec_ia32():
        result = ia32_call(IA32_EXECVE, [victim], [0, 0])
        raise OSError(-result, "32-bit execve")

    def open_relative():
        os.chdir(work)
        read_open(os.open("secret", os.O_RDONLY))

    def open_dirfd():
        read_open(os.open("secret", os.O_RDONLY, dir_fd=os.open(work, os.O_RDONLY | os.O_DIRECTORY)))

    def open_openat2():
        how = struct.pack("<QQQ", os.O_RDONLY, 0, 0)
        buf = ctypes.create_string_buffer(how)
        fd = check(LIBC.syscall(ctypes.c_long(NR_OPENAT2), ctypes.c_int(-100), cstr(secret), buf, ctypes.c_size_t(len(how))))
        read_open(fd)

    def open_bind_mount():
        check(LIBC.unshare(CLONE_NEWNS))
        check(LIBC.mount(cstr("none"), cstr("/"), None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None))
        mnt = os.path.join(work, "mnt")
        check(LIBC.mount(cstr(work), cstr(mnt), None, ctypes.c_ulong(MS_BIND), None))
        read_open(os.open(os.path.join(mnt, "secret"), os.O_RDONLY))

    def open_chroot():
        os.chroot(work)
        os.chdir("/")
        read_open(os.open("/secret", os.O_RDONLY))

    def open_by_handle():
        handle = ctypes.create_string_buffer(8 + 128)
        struct.pack_into("<I", handle, 0, 128)
        mount_id = ctypes.c_int()
        check(LIBC.syscall(ctypes.c_long(NR_NAME_TO_HANDLE_AT), ctypes.c_int(-100), cstr(secret), handle, ctypes.byref(mount_id), ctypes.c_int(0)))
        mount_fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
        fd = check(LIBC.syscall(ctypes.c_long(NR_OPEN_BY_HANDLE_AT), ctypes.c_int(mount_fd), handle, ctypes.c_int(os.O_RDONLY)))
        read_open(fd)

    def open_untouched_page():
        # The path is in a page of a mapped file that nothing has read: the
        # kernel faults it in when the call reads the name.
        fd = os.open(os.path.join(work, "secret-name"), os.O_RDONLY)
        addr = LIBC.mmap(None, ctypes.c_size_t(4096), ctypes.c_int(1), ctypes.c_int(2), ctypes.c_int(fd), ctypes.c_long(0))
        LIBC.open.restype = ctypes.c_int
        read_open(check(LIBC.open(ctypes.c_void_p(addr), ctypes.c_int(os.O_RDONLY))))

    def open_ia32():
        fd = ia32_call(IA32_OPEN, [secret], [os.O_RDONLY])
        if fd < 0:
            raise OSError(-fd, "32-bit open")
        read_open(fd)

    def udp_sendto():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(b"x", ("127.0.0.1", port))

    def tcp_fast_open():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.sendto(b"x", MSG_FASTOPEN, ("127.0.0.1", port))

    def ipv4_mapped():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.connect(("::ffff:127.0.0.1", port))

    def bpf_ia32():
        # BPF_MAP_CREATE with no attributes: EFAULT or EINVAL unless the
        # call is refused first.
        result = ia32_call(IA32_BPF, [], [0, 0, 0])
        raise OSError(-result, "32-bit bpf")

    def sigprocmask_ia32():
        # Its number is init_module's in the 64-bit ABI: it must not be
        # taken for one. Its own result does not matter.
        ia32_call(IA32_RT_SIGPROCMASK, [], [0, 0, 8])

    def finit_module_ia32():
        fd = os.open(os.path.join(work, "not-a-module.ko"), os.O_RDONLY)
        result = ia32_call(IA32_FINIT_MODULE, [], [fd, LOW_PAGE + 4095, 0])
        raise OSError(-result, "32-bit finit_module")

    def link_empty_path():
        fd = os.open(victim, os.O_PATH)
        check(LIBC.linkat(fd, cstr(""), AT_FDCWD, cstr(os.path.join(work, "stolen-1")), AT_EMPTY_PATH))

    def link_proc_fd():
        fd = os.open(victim, os.O_PATH)
        check(LIBC.linkat(AT_FDCWD, cstr("/proc/self/fd/%d" % fd), AT_FDCWD,
                          cstr(os.path.join(work, "stolen-2")), AT_SYMLINK_FOLLOW))

    def rename_exchange():
        check(LIBC.syscall(ctypes.c_long(NR_RENAMEAT2), AT_FDCWD, cstr(os.path.join(work, "decoy")),
                           AT_FDCWD, cstr(os.path.join(work, "bin", "tool")), ctypes.c_uint(RENAME_EXCHANGE)))

    def rename_ia32():
        result = ia32_call(IA32_RENAME, [os.path.join(work, "bin", "tool"), os.path.join(work, "moved")])
        if result < 0:
            raise OSError(-result, "32-bit rename")

    def chmod_fchmod():
        os.fchmod(os.open(os.path.join(work, "setid-target"), os.O_RDONLY), 0o4755)

    def chmod_ia32():
        result = ia32_call(IA32_CHMOD, [os.path.join(work, "setid-target")], [0o4755])
        if result < 0:
            raise OSError(-result, "32-bit chmod")

    def socket_ia32():
        result = ia32_call(IA32_SOCKET, [], [socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP])
        if result < 0:
            raise OSError(-result, "32-bit socket")

    def exec_(path, argv=None):
        return lambda: exec_path(path, argv)

    def open_(path):
        return lambda: read_open(os.open(path, os.O_RDONLY))

    return {
        # name: (action, what success prints)
        "exec-relative": (exec_relative, "ran"),
        "exec-dotdot": (exec_(os.path.join(work, "..", base, "victim")), "ran"),
        "exec-slashes": (exec_(work + "//victim"), "ran"),
        "exec-symlink": (exec_(os.path.join(work, "victim-link")), "ran"),
        "exec-hardlink": (exec_(os.path.join(work, "sub", "victim-hard")), "ran"),
        "exec-dirfd": (exec_dirfd, "ran"),
        "exec-empty-path": (exec_empty_path, "ran"),
        "exec-fexecve": (exec_fexecve, "ran"),
        "exec-proc-fd": (exec_proc_fd, "ran"),
        "exec-memfd": (exec_memfd, "ran"),
        "exec-ld-so": (exec_(LD_SO, [LD_SO, victim]), "ran"),
        "exec-script-interpreter": (exec_(os.path.join(work, "via-victim.sh")), "ran"),
        "exec-script-itself": (exec_(os.path.join(work, "denied.sh")), "ran"),
        "exec-ia32": (exec_ia32, "ran"),
        "open-relative": (open_relative, "opened"),
        "open-dotdot": (open_(os.path.join(work, "..", base, "secret")), "opened"),
        "open-slashes": (open_(work + "//secret"), "opened"),
        "open-symlink": (open_(os.path.join(work, "secret-link")), "opened"),
        "open-hardlink": (open_(os.path.join(work, "sub", "secret-hard")), "opened"),
        "open-dirfd": (open_dirfd, "opened"),
        "open-proc-root": (open_("/proc/self/root" + secret), "opened"),
        "open-openat2": (open_openat2, "opened"),
        "open-bind-mount": (open_bind_mount, "opened"),
        "open-chroot": (open_chroot, "opened"),
        "open-by-handle": (open_by_handle, "opened"),
        "open-untouched-page": (open_untouched_page, "opened"),
        "open-ia32": (open_ia32, "opened"),
        "net-udp-sendto": (udp_sendto, "sent"),
        "net-tcp-fast-open": (tcp_fast_open, "sent"),
        "net-ipv4-mapped": (ipv4_mapped, "sent"),
        "bpf-ia32": (bpf_ia32, "ok"),
        "ia32-rt-sigprocmask": (sigprocmask_ia32, "ok"),
        "module-ia32-finit": (finit_module_ia32, "ok"),
        "link-empty-path": (link_empty_path, "ok"),
        "link-proc-fd": (link_proc_fd, "ok"),
        "rename-exchange": (rename_exchange, "ok"),
        "rename-ia32": (rename_ia32, "ok"),
        "chmod-fchmod": (chmod_fchmod, "ok"),
        "chmod-ia32": (chmod_ia32, "ok"),
        "socket-ia32": (socket_ia32, "ok"),
    }


def run_one(name, action, success):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except OSError as error:
            os._exit(ERRNO_BASE + min(error.errno or 0, 255 - ERRNO_BASE))
        except BaseException:  # noqa: BLE001 - the child must never return
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        outcome = "killed" if os.WTERMSIG(status) == signal.SIGKILL else "signal %d" % os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
        if code == 0:
            outcome = success
        elif code >= ERRNO_BASE:
            outcome = errno_name(code - ERRNO_BASE)
        else:
            outcome = "exit %d" % code
    print(json.dumps({"technique": name, "pid": pid, "outcome": outcome}), flush=True)


def lsm_expectations(work, port):
    """Per technique under BPF LSM: the outcome, then the rule and the field
    and value its event must carry (None: no event)."""
    victim = os.path.join(work, "victim")
    secret = os.path.join(work, "secret")
    exec_denied = ("deny_victim", "exec.path", victim)
    open_denied = ("deny_secret", "file.path", secret)
    return {
        "exec-relative": ("EPERM", exec_denied),
        "exec-dotdot": ("EPERM", exec_denied),
        "exec-slashes": ("EPERM", exec_denied),
        "exec-symlink": ("EPERM", exec_denied),
        "exec-hardlink": ("EPERM", ("deny_victim", "exec.path", os.path.join(work, "sub", "victim-hard"))),
        "exec-dirfd": ("EPERM", exec_denied),
        "exec-empty-path": ("EPERM", exec_denied),
        "exec-fexecve": ("EPERM", exec_denied),
        "exec-proc-fd": ("EPERM", exec_denied),
        "exec-memfd": ("EPERM", ("no_fileless_exec", "exec.path", "/memfd:payload")),
        # ld.so runs; mapping the program fails, and it gives up.
        "exec-ld-so": ("exit 127", exec_denied),
        "exec-script-interpreter": ("EPERM", exec_denied),
        "exec-script-itself": ("EPERM", ("deny_script", "exec.path", os.path.join(work, "denied.sh"))),
        "exec-ia32": ("EPERM", exec_denied),
        "open-relative": ("EPERM", open_denied),
        "open-dotdot": ("EPERM", open_denied),
        "open-slashes": ("EPERM", open_denied),
        "open-symlink": ("EPERM", open_denied),
        "open-hardlink": ("EPERM", ("deny_secret", "file.path", os.path.join(work, "sub", "secret-hard"))),
        "open-dirfd": ("EPERM", open_denied),
        "open-proc-root": ("EPERM", open_denied),
        "open-openat2": ("EPERM", open_denied),
        "open-bind-mount": ("EPERM", ("deny_secret", "file.path", os.path.join(work, "mnt", "secret"))),
        "open-chroot": ("EPERM", open_denied),
        "open-by-handle": ("EPERM", ("deny_secret", None, None)),
        "open-untouched-page": ("EPERM", open_denied),
        "open-ia32": ("EPERM", open_denied),
        "net-udp-sendto": ("EPERM", ("deny_port", "net.dport", port)),
        "net-tcp-fast-open": ("EPERM", ("deny_port", "net.dport", port)),
        "net-ipv4-mapped": ("EPERM", ("deny_port", "net.family", 2)),
        "bpf-ia32": ("EPERM", ("deny_map_create", "bpf.cmd", 0)),
        "ia32-rt-sigprocmask": ("ok", None),
        "module-ia32-finit": ("EPERM", ("deny_module", "module.path", os.path.join(work, "not-a-module.ko"))),
        "link-empty-path": ("EPERM", ("deny_victim_link", "file.path", victim)),
        "link-proc-fd": ("EPERM", ("deny_victim_link", "file.path", victim)),
        # The exchange moves bin/tool too: decided as its own rename.
        "rename-exchange": ("EPERM", ("deny_bin_rename", "file.path", os.path.join(work, "bin", "tool"))),
        "rename-ia32": ("EPERM", ("deny_bin_rename", "file.path", os.path.join(work, "bin", "tool"))),
        "chmod-fchmod": ("EPERM", ("deny_setid", "file.mode", 0o4755)),
        "chmod-ia32": ("EPERM", ("deny_setid", "file.path", os.path.join(work, "setid-target"))),
        "socket-ia32": ("EPERM", ("deny_raw_socket", "socket.family", 2)),
    }


def check_lsm(work, port, outcomes_file, events_file):
    with open(outcomes_file) as lines:
        outcomes = {o["technique"]: o for o in map(json.loads, lines)}
    with open(events_file) as lines:
        events = [e for e in map(json.loads, lines) if e.get("type") == "event"]
    failed = 0
    for name, (outcome, event) in lsm_expectations(work, port).items():
        got = outcomes.get(name)
        problem = None
        if got is None:
            problem = "did not run"
        elif got["outcome"] != outcome:
            problem = "%s, expected %s" % (got["outcome"], outcome)
        else:
            mine = [e for e in events if e.get("pid") == got["pid"]]
            if event is None:
                if mine:
                    problem = "reported: %s" % mine
            else:
                rule, field, value = event
                found = [e for e in mine if e.get("rule") == rule]
                if not found:
                    problem = "no %s event of pid %d" % (rule, got["pid"])
                elif field is not None and found[0]["fields"].get(field) != value:
                    problem = "%s = %r, expected %r" % (field, found[0]["fields"].get(field), value)
        print("%s %s%s" % ("ok  " if problem is None else "FAIL", name, "" if problem is None else ": " + problem))
        failed += problem is not None
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "setup":
        setup(argv[2])
    elif len(argv) >= 2 and argv[1] == "list":
        for name in technique_table("/x", 0):
            print(name)
    elif len(argv) == 6 and argv[1] == "check-lsm":
        return check_lsm(argv[2], int(argv[3]), argv[4], argv[5])
    elif len(argv) >= 4 and argv[1] == "run":
        table = technique_table(argv[2], int(argv[3]))
        for name in argv[4:] or list(table):
            if name not in table:
                print("no technique %s" % name, file=sys.stderr)
                return 2
            action, success = table[name]
            run_one(name, action, success)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
