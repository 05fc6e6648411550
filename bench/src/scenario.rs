//! The benchmark scenarios: for each, one policy template with its C and
//! bpftrace equivalents, the hook it is measured on and the load that drives
//! it.
//!
//! Small scenarios are hand-written files (`bench/pol`, `bench/c`,
//! `bench/bpftrace`). Scaled scenarios (N rules, lists of N entries) have a
//! hand-written C program (`bench/c/<name>.bpf.c`) that includes a generated
//! header and an X-macro list (one `RULE(...)` or `ELEM(...)` line per rule
//! or element); the policy, the list and the bpftrace script are generated
//! here, from the same rule or element table, into the scratch directory.
//!
//! Knows nothing of timing or of the kernel.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Lists longer than this are set maps in polc (its `INLINE_LIST_MAX`); the
/// C equivalents switch to a map at the same size.
pub const INLINE_MAX: usize = polc::ir::INLINE_LIST_MAX;

/// Key length of the string hash maps of `open_list` (the longest element,
/// its NUL, rounded up to 8 bytes: what polc computes for these elements).
pub const LIST_KEY_LEN: usize = 32;

/// The kernel hook a scenario is measured on: the attach point of the polc
/// program `polrt run` runs on this host, and the clang-built C is attached
/// to the same one. On the development host BPF LSM programs are refused
/// (kernel lockdown), so polrt runs `file.open` and `exec` on their `tp_btf`
/// backends, and so do the benchmarks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// `tp_btf/sys_exit` (`file.open` on the `tp_btf` backend: every system
    /// call's exit, the opens that returned a file decided).
    Open,
    /// `tp_btf/sched_process_exec` (`exec` on the `tp_btf` backend: every
    /// program start, at its point of no return).
    Exec,
    /// `cgroup/connect4`.
    Connect,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Open, Hook::Exec, Hook::Connect];

    /// What the tables call it.
    pub fn attach_point(self) -> &'static str {
        match self {
            Hook::Open => "tp_btf/sys_exit",
            Hook::Exec => "tp_btf/sched_process_exec",
            Hook::Connect => "cgroup/connect4",
        }
    }

    /// The backend of [`Hook::attach_point`].
    pub fn backend(self) -> polc::abi::BackendKind {
        match self {
            Hook::Open | Hook::Exec => polc::abi::BackendKind::TpBtf,
            Hook::Connect => polc::abi::BackendKind::Cgroup,
        }
    }

    /// The polc program measured (one of the hook's backend programs).
    pub fn polc_symbol(self) -> &'static str {
        match self {
            Hook::Open => "file_open_tp_btf",
            Hook::Exec => "exec_tp_btf",
            Hook::Connect => "net_connect_cgroup4",
        }
    }

    /// The program of every C equivalent on this hook.
    pub fn c_symbol(self) -> &'static str {
        match self {
            Hook::Open => "file_open",
            Hook::Exec => "exec",
            Hook::Connect => "net_connect",
        }
    }

    /// The empty program of `bench/c/empty.bpf.c` on this hook.
    pub fn floor_symbol(self) -> &'static str {
        match self {
            Hook::Open => "empty_open",
            Hook::Exec => "empty_exec",
            Hook::Connect => "empty_connect",
        }
    }

    /// The load that drives this hook when nothing matches.
    pub fn floor_load(self) -> Load {
        match self {
            Hook::Open => Load::Open {
                path: "/tmp/polc-bench/miss".into(),
            },
            Hook::Exec => Load::exec(EXEC_MISS_PATH),
            Hook::Connect => Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: 9,
            },
        }
    }
}

/// What the load generator does, over and over.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Load {
    /// `openat(AT_FDCWD, path, O_RDONLY)` of a file the generator creates
    /// first when it is missing (the LSM hook sees opens that find a file).
    Open { path: String },
    /// A real program start: `posix_spawn` of `path` (a copy of
    /// [`TEST_PROGRAM`] the generator puts there when it is missing) with
    /// the arguments `args` (argv; `[path]` when empty) and an empty
    /// environment, then `waitpid`. With `uid`, the generator first drops to
    /// that user. With `ancestors`, the spawning process is the last of a
    /// chain of processes, each the child of the one before and named (its
    /// comm) as written: the new program's parent is the last one.
    Exec {
        path: String,
        #[serde(default)]
        args: Vec<String>,
        uid: Option<u32>,
        #[serde(default)]
        ancestors: Vec<String>,
        /// A cgroup below the test cgroup the generator makes and joins
        /// first (e.g. `system.slice/docker-<id>.scope`: a container).
        #[serde(default)]
        cgroup: Option<String>,
    },
    /// `connect()` of a UDP socket (no packet is sent).
    Connect { addr: Ipv4Addr, port: u16 },
}

/// The program every exec load starts (copied to the load's path): it
/// exits at once.
pub const TEST_PROGRAM: &str = "/bin/true";

impl Load {
    /// An exec of `path` with no arguments, as root, from the generator.
    pub fn exec(path: &str) -> Load {
        Load::Exec {
            path: path.into(),
            args: Vec::new(),
            uid: None,
            ancestors: Vec::new(),
            cgroup: None,
        }
    }

    /// An exec of `path` with the arguments `args` (argv, `argv[0]` first).
    pub fn exec_args(path: &str, args: &[&str]) -> Load {
        Load::Exec {
            path: path.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            uid: None,
            ancestors: Vec::new(),
            cgroup: None,
        }
    }

    /// An exec of `path` whose parent, grandparent, ... are named
    /// `ancestors` (nearest last).
    pub fn exec_below(path: &str, ancestors: &[&str]) -> Load {
        Load::Exec {
            path: path.into(),
            args: Vec::new(),
            uid: None,
            ancestors: ancestors.iter().map(|a| a.to_string()).collect(),
            cgroup: None,
        }
    }

    /// An exec of `path` from the cgroup `cgroup` below the test cgroup.
    pub fn exec_in(path: &str, cgroup: &str) -> Load {
        Load::Exec {
            path: path.into(),
            args: Vec::new(),
            uid: None,
            ancestors: Vec::new(),
            cgroup: Some(cgroup.into()),
        }
    }

    /// Short description for the tables.
    pub fn describe(&self) -> String {
        match self {
            Load::Open { path } => format!("open `{path}`"),
            Load::Exec {
                path,
                args,
                uid,
                ancestors,
                cgroup,
            } => {
                let mut text = format!("exec `{path}`");
                if !args.is_empty() {
                    let _ = write!(text, " argv `{}`", args.join(" "));
                }
                if let Some(uid) = uid {
                    let _ = write!(text, " as uid {uid}");
                }
                if !ancestors.is_empty() {
                    let chain: Vec<&str> = ancestors.iter().rev().map(String::as_str).collect();
                    let _ = write!(text, " below `{}`", chain.join("` < `"));
                }
                if let Some(cgroup) = cgroup {
                    let _ = write!(text, " in cgroup `…/{}`", short_ids(cgroup));
                }
                text
            }
            Load::Connect { addr, port } => format!("UDP connect {addr}:{port}"),
        }
    }
}

/// How a scenario scales.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// A fixed, realistic policy.
    Small,
    /// N rules, each testing its own value (first match wins).
    Rules,
    /// One rule testing membership in a list of N entries.
    List,
}

/// One scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub family: Family,
    pub hook: Hook,
    /// One line for the doc.
    pub what: &'static str,
    /// A load no rule matches: every rule is evaluated.
    pub miss: Load,
    /// A load that matches (reported), when the scenario measures it.
    pub hit: Option<Load>,
}

/// Every scenario.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "open_small",
            family: Family::Small,
            hook: Hook::Open,
            what: "credential files read by untrusted programs, writes under /etc (2 rules, inline lists)",
            miss: Load::Open {
                path: "/tmp/polc-bench/miss".into(),
            },
            hit: Some(Load::Open {
                path: "/tmp/polc-bench/secret".into(),
            }),
        },
        Scenario {
            name: "exec_small",
            family: Family::Small,
            hook: Hook::Exec,
            what: "shells started by network services or by users (2 rules, inline lists, parent comm)",
            miss: Load::exec(EXEC_MISS_PATH),
            hit: Some(Load::Exec {
                path: "/tmp/polc-bench/sh".into(),
                args: Vec::new(),
                uid: Some(65534),
                ancestors: Vec::new(),
                cgroup: None,
            }),
        },
        Scenario {
            name: "connect_small",
            family: Family::Small,
            hook: Hook::Connect,
            what: "mail and remote-desktop ports outside private ranges, telnet (3 rules, CIDRs)",
            miss: Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: 9,
            },
            hit: Some(Load::Connect {
                addr: Ipv4Addr::new(192, 0, 2, 1),
                port: 25,
            }),
        },
        Scenario {
            name: "open_rules",
            family: Family::Rules,
            hook: Hook::Open,
            what: "rule i: `file.path == \"/srv/polc-bench/rule-<i>\" and proc.uid != 0`",
            miss: Load::Open {
                path: "/srv/polc-bench/miss-00000".into(),
            },
            hit: None,
        },
        // prefix dispatch (LPM trie)
        Scenario {
            name: "open_prefix_rules",
            family: Family::Rules,
            hook: Hook::Open,
            what: "rule i: `file.path startswith \"/srv/polc-bench/prefix-<i>/\" and proc.uid != 4242`",
            // Longer than every prefix and sharing their first 23 bytes:
            // each prefix compared in turn reads past them.
            miss: Load::Open {
                path: "/srv/polc-bench/prefix-miss/file-00000".into(),
            },
            // A file under rule 0's prefix: the first rule decides (the
            // load generator runs as root).
            hit: Some(Load::Open {
                path: format!("{}/hit", bench_path("prefix", 0)),
            }),
        },
        // suffix dispatch (LPM trie of reversed literals)
        Scenario {
            name: "open_suffix_rules",
            family: Family::Rules,
            hook: Hook::Open,
            what: "rule i: `file.path endswith \"/suffix-<i>/polc-bench/target.conf\" and proc.uid != 4242`",
            // Longer than every suffix, sharing their last 23 bytes (the
            // trie's walk, from the end) and their first 8 (the C's
            // compare, from the suffix's start): `/suffix-miss0`.
            miss: Load::Open {
                path: format!("/srv/polc-bench/miss/suffix-miss0{SUFFIX_TAIL}"),
            },
            // Rule 0's suffix below /srv/polc-bench: the first rule decides
            // (the load generator runs as root).
            hit: Some(Load::Open {
                path: format!("{}{SUFFIX_TAIL}", bench_path("suffix", 0)),
            }),
        },
        Scenario {
            name: "connect_rules",
            family: Family::Rules,
            hook: Hook::Connect,
            what: "rule i: `net.dport == 20000 + i`",
            miss: Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: 9,
            },
            // Rule 0's port: the first rule decides.
            hit: Some(Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: 20000,
            }),
        },
        Scenario {
            name: "open_list",
            family: Family::List,
            hook: Hook::Open,
            what: "one rule: `file.path in watched`, N paths",
            miss: Load::Open {
                path: "/srv/polc-bench/miss-00000".into(),
            },
            // The list's first path, in the list at every size.
            hit: Some(Load::Open {
                path: bench_path("list", 0),
            }),
        },
        Scenario {
            name: "connect_list",
            family: Family::List,
            hook: Hook::Connect,
            what: "one rule: `net.daddr in nets`, N IPv4 /24 networks",
            miss: Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: 9,
            },
            // In the list's first network, 10.0.0.0/24, at every size.
            hit: Some(Load::Connect {
                addr: Ipv4Addr::new(10, 0, 0, 1),
                port: 9,
            }),
        },
        // The new context of an exec (argv, ancestry): one rule each, on
        // real program starts of a test program.
        Scenario {
            name: "exec_args",
            family: Family::Small,
            hook: Hook::Exec,
            what: "one rule: `exec.args[*] == \"-e\"` (netcat running a program)",
            miss: Load::exec_args(NC_PATH, &["nc", "-l", "-p", "4444", "-k", "-v"]),
            // The fifth argument matches.
            hit: Some(Load::exec_args(
                NC_PATH,
                &["nc", "-l", "-p", "4444", "-e", "/bin/sh"],
            )),
        },
        Scenario {
            name: "exec_cmdline",
            family: Family::Small,
            hook: Hook::Exec,
            what: "one rule: `exec.cmdline contains \"stratum+tcp://\"` (a cryptominer's pool)",
            // The same length, one word different: the search runs to the end.
            miss: Load::exec_args(MINER_PATH, &miner_args("stratum+ssl")),
            hit: Some(Load::exec_args(MINER_PATH, &miner_args("stratum+tcp"))),
        },
        Scenario {
            name: "exec_ancestors",
            family: Family::Small,
            hook: Hook::Exec,
            what: "one rule: `proc.ancestors[*].comm == \"sshd\"` (any of 8 ancestors)",
            miss: Load::exec_below(EXEC_MISS_PATH, &["login", "bash", "make", "sh"]),
            // The fourth ancestor matches.
            hit: Some(Load::exec_below(
                EXEC_MISS_PATH,
                &["sshd", "bash", "make", "sh"],
            )),
        },
        Scenario {
            name: "exec_container",
            family: Family::Small,
            hook: Hook::Exec,
            what: "one rule: `container.id == \"<64 hex digits>\"` (a docker container, systemd driver)",
            // Another container: the same walk, the same shape, another id.
            miss: Load::exec_in(
                EXEC_MISS_PATH,
                &format!("system.slice/docker-{OTHER_CONTAINER}.scope"),
            ),
            hit: Some(Load::exec_in(
                EXEC_MISS_PATH,
                &format!("system.slice/docker-{WATCHED_CONTAINER}.scope"),
            )),
        },
    ]
}

/// The program the exec loads no rule matches start (a copy of
/// [`TEST_PROGRAM`]).
const EXEC_MISS_PATH: &str = "/tmp/polc-bench/bin/miss";
/// `text` with every 64-digit container id cut to its first 12 digits and
/// `…` (for the tables).
fn short_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let run = rest[start..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - start);
        out.push_str(&rest[..start]);
        let digits = &rest[start..start + run];
        if run == 64 {
            out.push_str(&digits[..12]);
            out.push('…');
        } else {
            out.push_str(digits);
        }
        rest = &rest[start + run..];
    }
    out.push_str(rest);
    out
}

/// The container `exec_container`'s rule names, and another one.
pub const WATCHED_CONTAINER: &str =
    "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const OTHER_CONTAINER: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";

/// The program `exec_args` starts.
const NC_PATH: &str = "/tmp/polc-bench/nc";
/// The program `exec_cmdline` starts.
const MINER_PATH: &str = "/tmp/polc-bench/xmrig";

/// `exec_cmdline`'s arguments, with a pool URL of scheme `scheme`.
fn miner_args(scheme: &str) -> [&'static str; 7] {
    let url = match scheme {
        "stratum+tcp" => "stratum+tcp://pool.example.org:3333",
        _ => "stratum+ssl://pool.example.org:3333",
    };
    ["xmrig", "--url", url, "--user", "wallet", "--threads", "2"]
}

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// The files one instance (scenario and size) is built from.
#[derive(Clone, Debug)]
pub struct Sources {
    pub pol: PathBuf,
    pub c: PathBuf,
    /// Where the generated C header and X-macro list are (or the
    /// scenario's directory for small scenarios).
    pub c_include: PathBuf,
    pub bt: PathBuf,
    /// Contents of the C program's set map, when it has one: (map name,
    /// keys), each key exactly the map's key size.
    pub c_set: Option<(String, Vec<Vec<u8>>)>,
}

/// Path `/srv/polc-bench/<what>-<i>` with five digits: every generated path
/// (and the miss path) has the same length, so every string compare runs
/// to its first differing word or byte.
fn bench_path(what: &str, i: usize) -> String {
    format!("/srv/polc-bench/{what}-{i:05}")
}

/// The i-th network of `connect_list`: 10.(i / 256).(i % 256).0/24.
fn list_net(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, 0)
}

/// Writes (or locates) the sources of `scenario` at `size` (`None` for
/// small scenarios) under `scratch`.
pub fn sources(
    scenario: &Scenario,
    size: Option<usize>,
    bench_dir: &Path,
    scratch: &Path,
) -> std::io::Result<Sources> {
    let c = bench_dir.join("c").join(format!("{}.bpf.c", scenario.name));
    let Some(n) = size else {
        return Ok(Sources {
            pol: bench_dir.join("pol").join(format!("{}.pol", scenario.name)),
            c,
            c_include: bench_dir.join("c"),
            bt: bench_dir
                .join("bpftrace")
                .join(format!("{}.bt", scenario.name)),
            c_set: None,
        });
    };
    let dir = scratch.join(format!("{}-{n}", scenario.name));
    std::fs::create_dir_all(&dir)?;
    let generated = generate(scenario.name, n);
    std::fs::write(dir.join("policy.pol"), &generated.pol)?;
    std::fs::write(dir.join("policy.bt"), &generated.bt)?;
    std::fs::write(
        dir.join(format!("{}.h", scenario.name)),
        &generated.c_header,
    )?;
    std::fs::write(
        dir.join(format!("{}.inc", scenario.name)),
        &generated.c_list,
    )?;
    Ok(Sources {
        pol: dir.join("policy.pol"),
        c,
        c_include: dir.clone(),
        bt: dir.join("policy.bt"),
        c_set: generated.c_set,
    })
}

/// Generated text of one scaled instance.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    pub pol: String,
    pub bt: String,
    pub c_header: String,
    pub c_list: String,
    pub c_set: Option<(String, Vec<Vec<u8>>)>,
}

/// Generates the policy, the bpftrace script and the C header and list of
/// scaled scenario `name` at size `n`.
pub fn generate(name: &str, n: usize) -> Generated {
    match name {
        "open_rules" => open_rules(n),
        "open_prefix_rules" => open_prefix_rules(n),
        "open_suffix_rules" => open_suffix_rules(n),
        "connect_rules" => connect_rules(n),
        "open_list" => open_list(n),
        "connect_list" => connect_list(n),
        other => panic!("{other} is not a scaled scenario"),
    }
}

const HEADER_NOTE: &str = "generated by polc-bench (bench/src/scenario.rs)";

/// The generated text of rules scenario `name` at `n` rules, headed by
/// what made it (and `N_RULES` for the C).
fn rules_generated(name: &str, n: usize) -> Generated {
    let mut g = Generated::default();
    let _ = writeln!(g.pol, "# {HEADER_NOTE}: {name}, {n} rules\n");
    let _ = writeln!(g.c_header, "/* {HEADER_NOTE}: {name}, {n} rules */");
    let _ = writeln!(g.c_header, "#define N_RULES {n}");
    let _ = writeln!(g.bt, "// {HEADER_NOTE}: {name}, {n} rules");
    g
}

/// Rule `r<i>` of an open scenario: `when` its condition (whose string
/// literal is `lit`), reporting the open; its C line `RULE(i, "lit")`.
fn open_rule(g: &mut Generated, i: usize, when: &str, lit: &str) {
    let _ = writeln!(
        g.pol,
        "rule r{i:05} {{\n    on file.open\n    when {when}\n    audit \"{{proc.comm}} (uid {{proc.uid}}) opened {{file.path}}\"\n}}\n"
    );
    let _ = writeln!(g.c_list, "RULE({i}, \"{lit}\")");
}

/// The bpftrace test of one open rule: `if` no rule before it matched and
/// `test` holds, it matches and prints its report.
fn bt_open_rule(g: &mut Generated, i: usize, test: &str, path: &str) {
    let _ = writeln!(
        g.bt,
        "\tif ($matched == 0 && {test}) {{\n\t\t$matched = 1;\n\t\tprintf(\"r{i:05}: %s (uid %d) opened %s\\n\", comm, uid, {path});\n\t}}"
    );
}

fn open_rules(n: usize) -> Generated {
    let mut g = rules_generated("open_rules", n);
    g.bt.push_str("tracepoint:syscalls:sys_enter_openat\n{\n");
    g.bt.push_str("\t$path = str(args->filename);\n\t$matched = 0;\n");
    for i in 0..n {
        let path = bench_path("rule", i);
        open_rule(
            &mut g,
            i,
            &format!("file.path == \"{path}\" and proc.uid != 0"),
            &path,
        );
        // bpftrace compiles this shape (one printf per rule) at 10 rules
        // and runs out of stack at 100; with one printf after the rules it
        // runs out of stack at 10 already.
        bt_open_rule(
            &mut g,
            i,
            &format!("$path == \"{path}\" && uid != 0"),
            "$path",
        );
    }
    g.bt.push_str("}\n");
    g
}

// prefix dispatch (LPM trie)
fn open_prefix_rules(n: usize) -> Generated {
    let mut g = rules_generated("open_prefix_rules", n);
    g.bt.push_str("tracepoint:syscalls:sys_enter_openat\n{\n");
    g.bt.push_str("\t$path = str(args->filename);\n\t$matched = 0;\n");
    for i in 0..n {
        let prefix = format!("{}/", bench_path("prefix", i));
        open_rule(
            &mut g,
            i,
            &format!("file.path startswith \"{prefix}\" and proc.uid != 4242"),
            &prefix,
        );
        let test = format!(
            "strncmp($path, \"{prefix}\", {}) == 0 && uid != 4242",
            prefix.len()
        );
        bt_open_rule(&mut g, i, &test, "$path");
    }
    g.bt.push_str("}\n");
    g
}

// suffix dispatch (LPM trie of reversed literals)
/// The tail every `open_suffix_rules` literal (and both its loads) ends
/// with: 23 bytes, as long as the prefix scenario's common prefix.
const SUFFIX_TAIL: &str = "/polc-bench/target.conf";

/// Rule i's literal in `open_suffix_rules`: `/suffix-<i>` and the common
/// tail (every literal 36 bytes long).
fn suffix_literal(i: usize) -> String {
    format!("/suffix-{i:05}{SUFFIX_TAIL}")
}

fn open_suffix_rules(n: usize) -> Generated {
    let mut g = rules_generated("open_suffix_rules", n);
    // bpftrace has no string length nor slices: the length is counted
    // once, then each rule compares the string read from its literal's
    // length before the end.
    g.bt.push_str("tracepoint:syscalls:sys_enter_openat\n{\n");
    g.bt.push_str("\t$p = args->filename;\n\t$len = 0;\n\t$matched = 0;\n");
    g.bt.push_str("\twhile ($len < 255 && *(uint8 *)($p + $len) != 0) {\n\t\t$len++;\n\t}\n");
    for i in 0..n {
        let suffix = suffix_literal(i);
        open_rule(
            &mut g,
            i,
            &format!("file.path endswith \"{suffix}\" and proc.uid != 4242"),
            &suffix,
        );
        let len = suffix.len();
        let test = format!(
            "$len >= {len} && strncmp(str($p + $len - {len}), \"{suffix}\", {len}) == 0 && uid != 4242"
        );
        bt_open_rule(&mut g, i, &test, "str($p)");
    }
    g.bt.push_str("}\n");
    g
}

fn connect_rules(n: usize) -> Generated {
    // One printf after the rules: bpftrace gives every printf its own
    // stack space, and a hundred of them exceed the 512-byte stack.
    let mut g = rules_generated("connect_rules", n);
    g.bt.push_str("tracepoint:syscalls:sys_enter_connect\n{\n");
    g.bt.push_str("\t$sa = (struct sockaddr_in *)args->uservaddr;\n");
    g.bt.push_str(
        "\tif ($sa->sin_family == 2) {\n\t\t$port = bswap($sa->sin_port);\n\t\t$matched = 0;\n\t\t$rule = 0;\n",
    );
    for i in 0..n {
        let port = 20_000 + i;
        let _ = writeln!(
            g.pol,
            "rule r{i:05} {{\n    on net.connect\n    when net.dport == {port}\n    audit \"{{proc.comm}} connecting to {{net.daddr}} port {{net.dport}}\"\n}}\n"
        );
        let _ = writeln!(g.c_list, "RULE({i}, {port})");
        let _ = writeln!(
            g.bt,
            "\t\tif ($matched == 0 && $port == {port}) {{\n\t\t\t$matched = 1;\n\t\t\t$rule = {i};\n\t\t}}"
        );
    }
    g.bt.push_str(
        "\t\tif ($matched) {\n\t\t\tprintf(\"r%05d: %s connecting to %s port %d\\n\", $rule, comm, ntop($sa->sin_addr.s_addr), $port);\n\t\t}\n\t}\n}\n",
    );
    g
}

fn open_list(n: usize) -> Generated {
    let mut g = Generated::default();
    let paths: Vec<String> = (0..n).map(|i| bench_path("list", i)).collect();
    let _ = writeln!(g.pol, "# {HEADER_NOTE}: open_list, {n} entries\n");
    g.pol.push_str("list watched = [\n");
    for path in &paths {
        let _ = writeln!(g.pol, "    \"{path}\",");
    }
    g.pol.push_str("]\n\nrule watched_open {\n    on file.open\n    when file.path in watched\n    audit \"{proc.comm} opened {file.path}\"\n}\n");
    let _ = writeln!(g.c_header, "/* {HEADER_NOTE}: open_list, {n} entries */");
    let _ = writeln!(g.c_header, "#define N_ELEMS {n}");
    let _ = writeln!(g.c_header, "#define INLINE_MAX {INLINE_MAX}");
    let _ = writeln!(g.c_header, "#define KEY_LEN {LIST_KEY_LEN}");
    let _ = writeln!(g.bt, "// {HEADER_NOTE}: open_list, {n} entries");
    if n <= INLINE_MAX {
        for path in &paths {
            let _ = writeln!(g.c_list, "ELEM(\"{path}\")");
        }
        let test: Vec<String> = paths.iter().map(|p| format!("$path == \"{p}\"")).collect();
        let _ = write!(
            g.bt,
            "tracepoint:syscalls:sys_enter_openat\n{{\n\t$path = str(args->filename);\n\tif ({}) {{\n\t\tprintf(\"%s opened %s\\n\", comm, $path);\n\t}}\n}}\n",
            test.join(" || ")
        );
    } else {
        let keys = paths
            .iter()
            .map(|p| {
                let mut key = p.as_bytes().to_vec();
                key.resize(LIST_KEY_LEN, 0);
                key
            })
            .collect();
        g.c_set = Some(("watched".into(), keys));
        g.bt.push_str("BEGIN\n{\n");
        for path in &paths {
            let _ = writeln!(g.bt, "\t@watched[\"{path}\"] = 1;");
        }
        g.bt.push_str("}\n\ntracepoint:syscalls:sys_enter_openat\n{\n\t$path = str(args->filename);\n\tif (@watched[$path] == 1) {\n\t\tprintf(\"%s opened %s\\n\", comm, $path);\n\t}\n}\n");
    }
    g
}

fn connect_list(n: usize) -> Generated {
    let mut g = Generated::default();
    let nets: Vec<Ipv4Addr> = (0..n).map(list_net).collect();
    let _ = writeln!(g.pol, "# {HEADER_NOTE}: connect_list, {n} entries\n");
    g.pol.push_str("list nets = [\n");
    for net in &nets {
        let _ = writeln!(g.pol, "    {net}/24,");
    }
    g.pol.push_str("]\n\nrule listed_destination {\n    on net.connect\n    when net.daddr in nets\n    audit \"{proc.comm} connecting to {net.daddr} port {net.dport}\"\n}\n");
    let _ = writeln!(g.c_header, "/* {HEADER_NOTE}: connect_list, {n} entries */");
    let _ = writeln!(g.c_header, "#define N_ELEMS {n}");
    let _ = writeln!(g.c_header, "#define INLINE_MAX {INLINE_MAX}");
    let _ = writeln!(
        g.bt,
        "// {HEADER_NOTE}: connect_list, {n} entries (/24 networks)"
    );
    let probe_head = "tracepoint:syscalls:sys_enter_connect\n{\n\t$sa = (struct sockaddr_in *)args->uservaddr;\n\tif ($sa->sin_family == 2) {\n\t\t$addr = bswap($sa->sin_addr.s_addr);\n";
    let report = "\t\t\tprintf(\"%s connecting to %s port %d\\n\", comm, ntop($sa->sin_addr.s_addr), bswap($sa->sin_port));\n";
    if n <= INLINE_MAX {
        for net in &nets {
            let _ = writeln!(g.c_list, "ELEM(0x{:08x}, 24)", u32::from(*net));
        }
        let test: Vec<String> = nets
            .iter()
            .map(|net| format!("($addr & 0xffffff00) == 0x{:08x}", u32::from(*net)))
            .collect();
        let _ = write!(
            g.bt,
            "{probe_head}\t\tif ({}) {{\n{report}\t\t}}\n\t}}\n}}\n",
            test.join(" || ")
        );
    } else {
        let keys = nets
            .iter()
            .map(|net| {
                let mut key = 24u32.to_le_bytes().to_vec();
                key.extend_from_slice(&net.octets());
                key
            })
            .collect();
        g.c_set = Some(("nets".into(), keys));
        // bpftrace has no LPM trie: every network here is a /24, so a
        // hash of the address's first 24 bits is equivalent.
        g.bt.push_str("BEGIN\n{\n");
        for net in &nets {
            let _ = writeln!(g.bt, "\t@nets[0x{:08x}] = 1;", u32::from(*net));
        }
        let _ = write!(
            g.bt,
            "}}\n\n{probe_head}\t\tif (@nets[$addr & 0xffffff00] == 1) {{\n{report}\t\t}}\n\t}}\n}}\n"
        );
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(source: &str) -> bool {
        let compiled = polc::compile::compile_source("gen.pol", source, 4096).expect("builds");
        compiled.policy.is_some() && !compiled.has_errors()
    }

    #[test]
    fn generated_policies_check_at_every_small_size() {
        for name in [
            "open_rules",
            "connect_rules",
            "open_list",
            "connect_list",
            "open_prefix_rules",
            "open_suffix_rules",
        ] {
            for n in [1, 8, 9, 100] {
                let generated = generate(name, n);
                assert!(checks(&generated.pol), "{name} {n}:\n{}", generated.pol);
                assert_eq!(
                    generated.c_set.is_some(),
                    name.ends_with("list") && n > INLINE_MAX,
                    "{name} {n}"
                );
            }
        }
    }

    #[test]
    fn hand_written_policies_check() {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
        for scenario in all().iter().filter(|s| s.family == Family::Small) {
            let path = bench.join("pol").join(format!("{}.pol", scenario.name));
            let source = std::fs::read_to_string(&path).expect("policy exists");
            assert!(checks(&source), "{}", path.display());
        }
    }

    #[test]
    fn every_small_scenario_has_its_c_and_bpftrace_equivalents() {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
        for scenario in all() {
            let c = bench.join("c").join(format!("{}.bpf.c", scenario.name));
            let text = std::fs::read_to_string(&c).expect("C equivalent exists");
            // The C runs where the polc program it is compared with runs.
            let section = format!("SEC(\"{}\")", scenario.hook.attach_point());
            assert!(text.contains(&section), "{} lacks {section}", c.display());
            if scenario.family == Family::Small {
                let bt = bench.join("bpftrace").join(format!("{}.bt", scenario.name));
                assert!(bt.exists(), "{}", bt.display());
            }
        }
        let empty = std::fs::read_to_string(bench.join("c/empty.bpf.c")).expect("floor");
        for hook in Hook::ALL {
            assert!(empty.contains(&format!("SEC(\"{}\")", hook.attach_point())));
            assert!(empty.contains(hook.floor_symbol()));
        }
    }

    #[test]
    fn exec_loads_differ_only_in_what_the_rule_tests() {
        let args = by_name("exec_args").expect("exec_args");
        let (Load::Exec { args: miss, .. }, Some(Load::Exec { args: hit, .. })) =
            (&args.miss, &args.hit)
        else {
            panic!("exec loads");
        };
        assert_eq!(miss.len(), hit.len());
        assert!(!miss.iter().any(|a| a == "-e") && hit.iter().any(|a| a == "-e"));

        let cmdline = by_name("exec_cmdline").expect("exec_cmdline");
        let (Load::Exec { args: miss, .. }, Some(Load::Exec { args: hit, .. })) =
            (&cmdline.miss, &cmdline.hit)
        else {
            panic!("exec loads");
        };
        assert_eq!(miss.join(" ").len(), hit.join(" ").len());
        assert!(!miss.join(" ").contains("stratum+tcp://"));
        assert!(hit.join(" ").contains("stratum+tcp://"));

        let ancestry = by_name("exec_ancestors").expect("exec_ancestors");
        let (
            Load::Exec {
                ancestors: miss, ..
            },
            Some(Load::Exec { ancestors: hit, .. }),
        ) = (&ancestry.miss, &ancestry.hit)
        else {
            panic!("exec loads");
        };
        assert_eq!(miss.len(), hit.len());
        assert!(!miss.iter().any(|a| a == "sshd") && hit[0] == "sshd");
        assert!(hit.iter().all(|name| name.len() <= 15), "comm is 15 bytes");
    }

    #[test]
    fn exec_loads_never_start_a_file_an_open_load_creates() {
        let mut opened = Vec::new();
        let mut started = Vec::new();
        for s in all() {
            let loads = std::iter::once(s.miss.clone()).chain(s.hit.clone());
            for load in loads.chain(std::iter::once(s.hook.floor_load())) {
                match load {
                    Load::Open { path } => opened.push(path),
                    Load::Exec { path, .. } => started.push(path),
                    Load::Connect { .. } => {}
                }
            }
        }
        assert!(!started.is_empty());
        assert!(started.iter().all(|p| !opened.contains(p)), "{started:?}");
    }

    #[test]
    fn the_container_loads_run_in_the_watched_container_and_another() {
        let scenario = by_name("exec_container").expect("exec_container");
        let id_of = |load: &Load| match load {
            // As polc's reference parser reads the cgroup, below the test
            // cgroup (one level under the root).
            Load::Exec {
                cgroup: Some(below),
                ..
            } => polc::container::from_path(&format!("/polc-bench-1/{below}"))
                .id()
                .to_string(),
            other => panic!("not an exec in a cgroup: {other:?}"),
        };
        assert_eq!(
            id_of(scenario.hit.as_ref().expect("hit")),
            WATCHED_CONTAINER
        );
        let miss = id_of(&scenario.miss);
        assert!(miss.len() == 64 && miss != WATCHED_CONTAINER, "{miss}");
        let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["pol/exec_container.pol", "c/exec_container.bpf.c"] {
            let text = std::fs::read_to_string(bench.join(file)).expect("source");
            assert!(text.contains(WATCHED_CONTAINER), "{file}");
        }
        assert_eq!(
            scenario.hit.expect("hit").describe(),
            "exec `/tmp/polc-bench/bin/miss` in cgroup `…/system.slice/docker-4c01db0b339c….scope`"
        );
    }

    #[test]
    fn an_exec_load_says_what_it_runs() {
        let load = Load::exec_below("/tmp/polc-bench/bin/miss", &["sshd", "bash"]);
        assert_eq!(
            load.describe(),
            "exec `/tmp/polc-bench/bin/miss` below `bash` < `sshd`"
        );
        let load = Load::exec_args("/tmp/polc-bench/nc", &["nc", "-e", "/bin/sh"]);
        assert_eq!(
            load.describe(),
            "exec `/tmp/polc-bench/nc` argv `nc -e /bin/sh`"
        );
        // Results written before exec loads had arguments still read.
        let old: Load =
            serde_json::from_str(r#"{"kind":"exec","path":"/tmp/polc-bench/sh","uid":65534}"#)
                .expect("old exec load");
        assert_eq!(old.describe(), "exec `/tmp/polc-bench/sh` as uid 65534");
    }

    #[test]
    fn the_suffix_loads_share_the_literals_tail_and_only_the_hit_matches_rule_0() {
        let scenario = by_name("open_suffix_rules").expect("open_suffix_rules");
        let (Load::Open { path: miss }, Some(Load::Open { path: hit })) =
            (&scenario.miss, &scenario.hit)
        else {
            panic!("open loads");
        };
        let literals: Vec<String> = (0..10_000).map(suffix_literal).collect();
        assert!(literals
            .iter()
            .all(|l| l.len() == 36 && l.len() < miss.len()));
        assert!(!literals.iter().any(|l| miss.ends_with(l.as_str())));
        // The last 23 bytes and the first 8 of every literal.
        let tail = &miss[miss.len() - 36..];
        assert!(tail.starts_with("/suffix-") && tail.ends_with(SUFFIX_TAIL));
        let matched: Vec<usize> = (0..10_000)
            .filter(|&i| hit.ends_with(literals[i].as_str()))
            .collect();
        assert_eq!(matched, vec![0]);
        let generated = generate("open_suffix_rules", 3);
        assert!(generated
            .c_list
            .contains("RULE(2, \"/suffix-00002/polc-bench/target.conf\")"));
        assert!(generated
            .bt
            .contains("strncmp(str($p + $len - 36), \"/suffix-00001/"));
    }

    #[test]
    fn set_keys_have_the_map_key_size() {
        let g = generate("open_list", 20);
        let (_, keys) = g.c_set.expect("a set");
        assert!(keys.iter().all(|k| k.len() == LIST_KEY_LEN));
        assert_eq!(bench_path("list", 9999).len() + 1, 27);
        let g = generate("connect_list", 300);
        let (_, keys) = g.c_set.expect("a set");
        assert_eq!(keys[257], vec![24, 0, 0, 0, 10, 1, 1, 0]);
    }
}
