//! THE table of named constants: open flags, memory protections and mmap
//! flags, capabilities (as bits, `1 << n`), socket types, protocols,
//! address families, namespace flags and signals, with the Linux x86_64
//! values. Each is usable wherever an integer literal is (comparisons,
//! `has`, lists, test events); each has a [`ConstKind`] naming the fields it
//! fits, so that `mmap.prot has O_TRUNC` is reported (W0075).
//!
//! Pure data: depends on nothing.

/// What a constant is: the fields it fits and whether it is a bit (for
/// `has`) or a value (for `==`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConstKind {
    /// `AF_*`: address families.
    Family,
    /// `O_*`: open flags.
    OpenFlag,
    /// `PROT_*`: memory protections.
    Prot,
    /// `MAP_*`: mmap flags.
    MapFlag,
    /// `CAP_*`: capabilities, as their bit in a capability set.
    Cap,
    /// `SOCK_*`: socket types.
    SockType,
    /// `IPPROTO_*`: protocols.
    Proto,
    /// `CLONE_NEW*`: namespace flags.
    CloneNew,
    /// `SIG*`: signal numbers.
    Signal,
}

impl ConstKind {
    /// What the constants of this kind are, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ConstKind::Family => "an address family",
            ConstKind::OpenFlag => "an open flag",
            ConstKind::Prot => "a memory protection",
            ConstKind::MapFlag => "an mmap flag",
            ConstKind::Cap => "a capability bit",
            ConstKind::SockType => "a socket type",
            ConstKind::Proto => "a protocol",
            ConstKind::CloneNew => "a namespace flag",
            ConstKind::Signal => "a signal number",
        }
    }

    /// Whether `field` (a dotted field name) holds values of this kind.
    /// Capability sets are every `capset.*` field and every `proc.cap*`
    /// one.
    pub fn fits(self, field: &str) -> bool {
        match self {
            ConstKind::Family => matches!(field, "net.family" | "socket.family"),
            ConstKind::OpenFlag => field == "file.flags",
            ConstKind::Prot => field == "mmap.prot",
            ConstKind::MapFlag => field == "mmap.flags",
            ConstKind::Cap => field.starts_with("capset.") || field.starts_with("proc.cap"),
            ConstKind::SockType => matches!(field, "socket.type" | "net.type"),
            ConstKind::Proto => matches!(field, "socket.protocol" | "net.protocol"),
            ConstKind::CloneNew => field == "ns.flags",
            ConstKind::Signal => field == "signal.sig",
        }
    }

    /// An example field of this kind, for help lines.
    pub fn example_field(self) -> &'static str {
        match self {
            ConstKind::Family => "net.family",
            ConstKind::OpenFlag => "file.flags",
            ConstKind::Prot => "mmap.prot",
            ConstKind::MapFlag => "mmap.flags",
            ConstKind::Cap => "capset.effective",
            ConstKind::SockType => "socket.type",
            ConstKind::Proto => "socket.protocol",
            ConstKind::CloneNew => "ns.flags",
            ConstKind::Signal => "signal.sig",
        }
    }

    /// Whether the constants are bits, tested with `has` (else values,
    /// compared with `==`).
    pub fn is_bits(self) -> bool {
        matches!(
            self,
            ConstKind::OpenFlag
                | ConstKind::Prot
                | ConstKind::MapFlag
                | ConstKind::Cap
                | ConstKind::CloneNew
        )
    }
}

/// One named constant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Constant {
    pub name: &'static str,
    pub value: u64,
    pub kind: ConstKind,
}

const fn c(name: &'static str, value: u64, kind: ConstKind) -> Constant {
    Constant { name, value, kind }
}

const fn cap(name: &'static str, bit: u32) -> Constant {
    Constant {
        name,
        value: 1 << bit,
        kind: ConstKind::Cap,
    }
}

use ConstKind::{CloneNew, Family, MapFlag, OpenFlag, Prot, Proto, Signal, SockType};

/// Every named constant (Linux x86_64 values).
pub static CONSTANTS: &[Constant] = &[
    c("AF_UNSPEC", 0, Family),
    c("AF_UNIX", 1, Family),
    c("AF_INET", 2, Family),
    c("AF_INET6", 10, Family),
    c("AF_KEY", 15, Family),
    c("AF_NETLINK", 16, Family),
    c("AF_PACKET", 17, Family),
    c("AF_CAN", 29, Family),
    c("AF_BLUETOOTH", 31, Family),
    c("AF_ALG", 38, Family),
    c("AF_VSOCK", 40, Family),
    c("AF_XDP", 44, Family),
    // Open flags (octal, as in the kernel's headers). O_RDONLY is 0: it
    // is no bit (`has O_RDONLY` is reported, `file.read` says it).
    c("O_RDONLY", 0, OpenFlag),
    c("O_WRONLY", 0o1, OpenFlag),
    c("O_RDWR", 0o2, OpenFlag),
    c("O_ACCMODE", 0o3, OpenFlag),
    c("O_CREAT", 0o100, OpenFlag),
    c("O_EXCL", 0o200, OpenFlag),
    c("O_NOCTTY", 0o400, OpenFlag),
    c("O_TRUNC", 0o1000, OpenFlag),
    c("O_APPEND", 0o2000, OpenFlag),
    c("O_NONBLOCK", 0o4000, OpenFlag),
    c("O_DSYNC", 0o10000, OpenFlag),
    c("O_ASYNC", 0o20000, OpenFlag),
    c("O_DIRECT", 0o40000, OpenFlag),
    c("O_LARGEFILE", 0o100000, OpenFlag),
    c("O_DIRECTORY", 0o200000, OpenFlag),
    c("O_NOFOLLOW", 0o400000, OpenFlag),
    c("O_NOATIME", 0o1000000, OpenFlag),
    c("O_CLOEXEC", 0o2000000, OpenFlag),
    c("O_SYNC", 0o4010000, OpenFlag),
    c("O_PATH", 0o10000000, OpenFlag),
    c("O_TMPFILE", 0o20200000, OpenFlag),
    c("PROT_NONE", 0, Prot),
    c("PROT_READ", 0x1, Prot),
    c("PROT_WRITE", 0x2, Prot),
    c("PROT_EXEC", 0x4, Prot),
    c("MAP_SHARED", 0x1, MapFlag),
    c("MAP_PRIVATE", 0x2, MapFlag),
    c("MAP_SHARED_VALIDATE", 0x3, MapFlag),
    c("MAP_FIXED", 0x10, MapFlag),
    c("MAP_ANONYMOUS", 0x20, MapFlag),
    c("MAP_GROWSDOWN", 0x100, MapFlag),
    c("MAP_DENYWRITE", 0x800, MapFlag),
    c("MAP_EXECUTABLE", 0x1000, MapFlag),
    c("MAP_LOCKED", 0x2000, MapFlag),
    c("MAP_NORESERVE", 0x4000, MapFlag),
    c("MAP_POPULATE", 0x8000, MapFlag),
    c("MAP_NONBLOCK", 0x10000, MapFlag),
    c("MAP_STACK", 0x20000, MapFlag),
    c("MAP_HUGETLB", 0x40000, MapFlag),
    c("MAP_SYNC", 0x80000, MapFlag),
    c("MAP_FIXED_NOREPLACE", 0x100000, MapFlag),
    cap("CAP_CHOWN", 0),
    cap("CAP_DAC_OVERRIDE", 1),
    cap("CAP_DAC_READ_SEARCH", 2),
    cap("CAP_FOWNER", 3),
    cap("CAP_FSETID", 4),
    cap("CAP_KILL", 5),
    cap("CAP_SETGID", 6),
    cap("CAP_SETUID", 7),
    cap("CAP_SETPCAP", 8),
    cap("CAP_LINUX_IMMUTABLE", 9),
    cap("CAP_NET_BIND_SERVICE", 10),
    cap("CAP_NET_BROADCAST", 11),
    cap("CAP_NET_ADMIN", 12),
    cap("CAP_NET_RAW", 13),
    cap("CAP_IPC_LOCK", 14),
    cap("CAP_IPC_OWNER", 15),
    cap("CAP_SYS_MODULE", 16),
    cap("CAP_SYS_RAWIO", 17),
    cap("CAP_SYS_CHROOT", 18),
    cap("CAP_SYS_PTRACE", 19),
    cap("CAP_SYS_PACCT", 20),
    cap("CAP_SYS_ADMIN", 21),
    cap("CAP_SYS_BOOT", 22),
    cap("CAP_SYS_NICE", 23),
    cap("CAP_SYS_RESOURCE", 24),
    cap("CAP_SYS_TIME", 25),
    cap("CAP_SYS_TTY_CONFIG", 26),
    cap("CAP_MKNOD", 27),
    cap("CAP_LEASE", 28),
    cap("CAP_AUDIT_WRITE", 29),
    cap("CAP_AUDIT_CONTROL", 30),
    cap("CAP_SETFCAP", 31),
    cap("CAP_MAC_OVERRIDE", 32),
    cap("CAP_MAC_ADMIN", 33),
    cap("CAP_SYSLOG", 34),
    cap("CAP_WAKE_ALARM", 35),
    cap("CAP_BLOCK_SUSPEND", 36),
    cap("CAP_AUDIT_READ", 37),
    cap("CAP_PERFMON", 38),
    cap("CAP_BPF", 39),
    cap("CAP_CHECKPOINT_RESTORE", 40),
    c("SOCK_STREAM", 1, SockType),
    c("SOCK_DGRAM", 2, SockType),
    c("SOCK_RAW", 3, SockType),
    c("SOCK_RDM", 4, SockType),
    c("SOCK_SEQPACKET", 5, SockType),
    c("SOCK_DCCP", 6, SockType),
    c("SOCK_PACKET", 10, SockType),
    c("IPPROTO_IP", 0, Proto),
    c("IPPROTO_ICMP", 1, Proto),
    c("IPPROTO_IGMP", 2, Proto),
    c("IPPROTO_TCP", 6, Proto),
    c("IPPROTO_UDP", 17, Proto),
    c("IPPROTO_IPV6", 41, Proto),
    c("IPPROTO_GRE", 47, Proto),
    c("IPPROTO_ESP", 50, Proto),
    c("IPPROTO_ICMPV6", 58, Proto),
    c("IPPROTO_SCTP", 132, Proto),
    c("IPPROTO_UDPLITE", 136, Proto),
    c("IPPROTO_RAW", 255, Proto),
    c("IPPROTO_MPTCP", 262, Proto),
    c("CLONE_NEWTIME", 0x80, CloneNew),
    c("CLONE_NEWNS", 0x0002_0000, CloneNew),
    c("CLONE_NEWCGROUP", 0x0200_0000, CloneNew),
    c("CLONE_NEWUTS", 0x0400_0000, CloneNew),
    c("CLONE_NEWIPC", 0x0800_0000, CloneNew),
    c("CLONE_NEWUSER", 0x1000_0000, CloneNew),
    c("CLONE_NEWPID", 0x2000_0000, CloneNew),
    c("CLONE_NEWNET", 0x4000_0000, CloneNew),
    c("SIGHUP", 1, Signal),
    c("SIGINT", 2, Signal),
    c("SIGQUIT", 3, Signal),
    c("SIGILL", 4, Signal),
    c("SIGTRAP", 5, Signal),
    c("SIGABRT", 6, Signal),
    c("SIGBUS", 7, Signal),
    c("SIGFPE", 8, Signal),
    c("SIGKILL", 9, Signal),
    c("SIGUSR1", 10, Signal),
    c("SIGSEGV", 11, Signal),
    c("SIGUSR2", 12, Signal),
    c("SIGPIPE", 13, Signal),
    c("SIGALRM", 14, Signal),
    c("SIGTERM", 15, Signal),
    c("SIGSTKFLT", 16, Signal),
    c("SIGCHLD", 17, Signal),
    c("SIGCONT", 18, Signal),
    c("SIGSTOP", 19, Signal),
    c("SIGTSTP", 20, Signal),
    c("SIGTTIN", 21, Signal),
    c("SIGTTOU", 22, Signal),
    c("SIGURG", 23, Signal),
    c("SIGXCPU", 24, Signal),
    c("SIGXFSZ", 25, Signal),
    c("SIGVTALRM", 26, Signal),
    c("SIGPROF", 27, Signal),
    c("SIGWINCH", 28, Signal),
    c("SIGIO", 29, Signal),
    c("SIGPWR", 30, Signal),
    c("SIGSYS", 31, Signal),
];

/// Looks a constant up by name.
pub fn lookup(name: &str) -> Option<&'static Constant> {
    CONSTANTS.iter().find(|constant| constant.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_values_match_the_kernel_facts() {
        let mut names: Vec<&str> = CONSTANTS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a constant is listed twice");
        assert_eq!(
            lookup("AF_INET").unwrap().value,
            crate::check::hooks::AF_INET
        );
        assert_eq!(
            lookup("AF_INET6").unwrap().value,
            crate::check::hooks::AF_INET6
        );
        assert_eq!(lookup("PROT_EXEC").unwrap().value, crate::kernel::PROT_EXEC);
        assert_eq!(
            lookup("MAP_ANONYMOUS").unwrap().value,
            crate::kernel::MAP_ANONYMOUS
        );
        assert_eq!(lookup("O_ACCMODE").unwrap().value, crate::kernel::O_ACCMODE);
        assert_eq!(
            lookup("O_CREAT").unwrap().value
                | lookup("O_EXCL").unwrap().value
                | lookup("O_NOCTTY").unwrap().value
                | lookup("O_TRUNC").unwrap().value,
            crate::kernel::OPEN_ONLY_FLAGS
        );
        let clone_new = CONSTANTS
            .iter()
            .filter(|c| c.kind == ConstKind::CloneNew)
            .fold(0, |all, c| all | c.value);
        assert_eq!(clone_new, crate::kernel::CLONE_NEW_FLAGS);
        assert_eq!(lookup("CAP_SYS_ADMIN").unwrap().value, 1 << 21);
        assert_eq!(lookup("SIGKILL").unwrap().value, crate::kernel::SIGKILL);
    }

    #[test]
    fn every_kind_fits_its_example_field() {
        for constant in CONSTANTS {
            let field = constant.kind.example_field();
            assert!(constant.kind.fits(field), "{}", constant.name);
            assert!(
                crate::check::hooks::FieldId::from_name(field).is_some(),
                "{field}"
            );
        }
    }
}
