//! End-to-end tests of list files (`list NAME = file "PATH"`) on the real
//! kernel (root): polrt fills the lists' maps from the files, and when a
//! file is rewritten while it runs, refills them in place: no program is
//! reloaded, a bad file is refused and the old entries stay enforced, and
//! under a flood of denied connects while the file is rewritten 100 times
//! (the denied entry kept), nothing gets through.
//!
//! Safe on a shared host: every rule is scoped to the test's own cgroup v2
//! directory, cgroup programs attach there only, and everything is detached
//! when polrt stops.

#[path = "e2e/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polc_tests::kernel_tests_enabled;
use support::{
    accepting_listener_on, assert_no_program_left, replace_file, run_in, spawn_in, wait_count,
    write_policy, Polrt, TempDir, TestCgroup,
};

/// Whether a shell in `cgroup` connects to `address`:`port`.
fn connects(cgroup: &TestCgroup, address: &str, port: u16) -> bool {
    let mut command = Command::new("bash");
    command.args(["-c", &format!("exec 3<>/dev/tcp/{address}/{port}")]);
    run_in(cgroup, &mut command).0.success()
}

const POLICY: &str = "\
list bad_nets = file \"nets.txt\"
list bad_ports = file \"ports.txt\"

rule blocked {
    on net.connect
    when net.daddr in bad_nets or net.dport in bad_ports
    deny \"{net.daddr}:{net.dport}\"
}
";

#[test]
fn list_files_are_refilled_in_place_and_a_bad_one_is_refused() {
    if !kernel_tests_enabled("list_files_are_refilled_in_place_and_a_bad_one_is_refused") {
        return;
    }
    let work = TempDir::new("lists-refill");
    let cgroup = TestCgroup::new("lists-refill");
    let two = accepting_listener_on("127.0.0.2");
    let three = accepting_listener_on("127.0.0.3");
    let port_a = accepting_listener_on("127.0.0.1");
    let port_b = accepting_listener_on("127.0.0.1");
    let nets = work.path.join("nets.txt");
    let ports = work.path.join("ports.txt");
    fs::write(
        &nets,
        "# blocked networks\n10.0.0.0/8\n127.0.0.2/32\nfd00::/8\n",
    )
    .expect("nets");
    fs::write(&ports, format!("{port_a}\n")).expect("ports");
    let policy = write_policy(&work, "lists.pol", POLICY);
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);

    assert!(
        !connects(&cgroup, "127.0.0.2", two),
        "a listed network is denied"
    );
    assert!(
        connects(&cgroup, "127.0.0.3", three),
        "an unlisted one is not"
    );
    assert!(
        !connects(&cgroup, "127.0.0.1", port_a),
        "a listed port is denied"
    );
    assert!(
        connects(&cgroup, "127.0.0.1", port_b),
        "an unlisted one is not"
    );

    // One entry added, another removed, in each file.
    replace_file(&nets, "10.0.0.0/8\n127.0.0.3\nfd00::/8\n");
    wait_count(&polrt, "list `bad_nets` of policy `lists`", 1);
    replace_file(&ports, &format!("# now\n{port_b}\n"));
    wait_count(&polrt, "list `bad_ports` of policy `lists`", 1);
    assert!(
        !connects(&cgroup, "127.0.0.3", three),
        "the added network is denied"
    );
    assert!(
        connects(&cgroup, "127.0.0.2", two),
        "the removed one is allowed"
    );
    assert!(
        !connects(&cgroup, "127.0.0.1", port_b),
        "the added port is denied"
    );
    assert!(
        connects(&cgroup, "127.0.0.1", port_a),
        "the removed one is allowed"
    );

    // A bad line: refused, the old entries stay enforced.
    replace_file(&nets, "10.0.0.0/8\n127.0.0.300\n");
    wait_count(&polrt, "refused, the old entries stay enforced", 1);
    assert!(
        !connects(&cgroup, "127.0.0.3", three),
        "still denied after a refusal"
    );
    assert!(connects(&cgroup, "127.0.0.2", two));
    // A fixed file is applied again.
    replace_file(&nets, "127.0.0.2\n");
    wait_count(&polrt, "list `bad_nets` of policy `lists`", 3);
    assert!(!connects(&cgroup, "127.0.0.2", two));
    assert!(connects(&cgroup, "127.0.0.3", three));

    let finished = polrt.stop_ok();
    let lists = finished.of_type("list");
    let summary: Vec<(String, String, u64, u64)> = lists
        .iter()
        .map(|r| {
            (
                r["list"].as_str().unwrap_or_default().to_string(),
                r["result"].as_str().unwrap_or_default().to_string(),
                r["added"].as_u64().unwrap_or(99),
                r["removed"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bad_nets".into(), "updated".into(), 1, 1),
            ("bad_ports".into(), "updated".into(), 1, 1),
            ("bad_nets".into(), "refused".into(), 0, 0),
            // 10.0.0.0/8, 127.0.0.3/32 and fd00::/8 go, 127.0.0.2/32 comes.
            ("bad_nets".into(), "updated".into(), 1, 3),
        ]
    );
    let refused = lists[2]["reason"].as_str().unwrap_or_default();
    assert!(
        refused.contains("nets.txt:2:") && refused.contains("127.0.0.300"),
        "the refusal names the file, the line and its text: {refused}"
    );
    assert_eq!(lists[2]["policy"], "lists");
    // No program was reloaded: one `backend` record per hook, no `reload`.
    assert!(
        finished.of_type("reload").is_empty(),
        "{:?}",
        finished.of_type("reload")
    );
    assert_eq!(finished.of_type("backend").len(), 1);
    // The events name what was denied.
    let messages: Vec<&str> = finished
        .events()
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(
        messages.contains(&format!("127.0.0.3:{three}").as_str()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&format!("127.0.0.1:{port_b}").as_str()),
        "{messages:?}"
    );
    assert_no_program_left(&finished.program_ids());
}

/// Under a steady flood of connects to a listed network, the list file is
/// rewritten 100 times (other entries added and removed, the denied one
/// kept): every connect is refused, and the programs are the same
/// throughout.
#[test]
fn a_list_rewritten_100_times_under_a_flood_never_lets_one_connect_through() {
    if !kernel_tests_enabled(
        "a_list_rewritten_100_times_under_a_flood_never_lets_one_connect_through",
    ) {
        return;
    }
    let work = TempDir::new("lists-flood");
    let cgroup = TestCgroup::new("lists-flood");
    let port = accepting_listener_on("127.0.0.2");
    let nets = work.path.join("nets.txt");
    let ports = work.path.join("ports.txt");
    fs::write(&nets, "127.0.0.2\n").expect("nets");
    fs::write(&ports, "1\n").expect("ports");
    let policy = write_policy(&work, "lists.pol", POLICY);
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let stop = work.path.join("stop");
    let mut command = Command::new("bash");
    command
        .args([
            "-c",
            &format!(
                "exec 9< <(sleep 3600); while [ ! -e {stop} ]; do if : 3<>/dev/tcp/127.0.0.2/{port}; then echo connected; else echo refused; fi; read -t 0.001 -u 9; done 2>/dev/null; kill $!",
                stop = stop.display()
            ),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut flooder = spawn_in(&cgroup, &mut command);
    let lines = BufReader::new(flooder.stdout.take().expect("flood output")).lines();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let reader = std::thread::spawn(move || {
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        for line in lines {
            *outcomes.entry(line.expect("read the flood")).or_default() += 1;
            counter.fetch_add(1, Ordering::Relaxed);
        }
        outcomes
    });
    while seen.load(Ordering::Relaxed) < 100 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut latencies = Vec::new();
    for number in 1..=100u32 {
        // Other entries come and go around the kept one (first, last, or
        // between them).
        let text = match number % 3 {
            0 => format!("10.{number}.0.0/16\n127.0.0.2\n"),
            1 => format!("127.0.0.2\n10.{number}.0.0/16\n192.0.2.{number}\n"),
            _ => format!("fd00:{number:x}::/32\n127.0.0.2/32\n"),
        };
        let started = Instant::now();
        replace_file(&nets, &text);
        wait_count(&polrt, "list `bad_nets` of policy `lists`", number as usize);
        latencies.push(started.elapsed());
    }
    fs::write(&stop, "").expect("stop the flood");
    let outcomes = reader.join().expect("the flood's reader");
    flooder.wait().expect("wait for the flood");
    let finished = polrt.stop_ok();
    assert_eq!(
        outcomes.get("connected"),
        None,
        "a connect got through while the list was rewritten: {outcomes:?}"
    );
    let refused = outcomes.get("refused").copied().unwrap_or(0);
    assert!(refused >= 100, "{outcomes:?}");
    let updates = finished.of_type("list");
    assert_eq!(updates.len(), 100);
    assert!(
        updates.iter().all(|r| r["result"] == "updated"),
        "{updates:?}"
    );
    assert!(finished.of_type("reload").is_empty());
    assert_eq!(
        finished.of_type("backend").len(),
        1,
        "the programs were never reloaded"
    );
    latencies.sort();
    eprintln!(
        "list refill latency (file replaced to `list` line on stderr, 100 rewrites): median {:?}, max {:?}; {refused} connects refused",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
    );
}

/// Whether `cat PATH` in `cgroup` reads the file.
fn reads(cgroup: &TestCgroup, path: &Path) -> bool {
    let mut command = Command::new("cat");
    command.arg(path);
    run_in(cgroup, &mut command).0.success()
}

/// A list file of paths compared with `in` also matches the files by
/// identity (another name of the same file): rewritten, the identities of
/// the new paths are written in place too. A list file compiled into the
/// programs (`contains`) reloads the policy when it changes.
#[test]
fn path_lists_refresh_their_identities_and_compiled_lists_reload_the_policy() {
    if !kernel_tests_enabled(
        "path_lists_refresh_their_identities_and_compiled_lists_reload_the_policy",
    ) {
        return;
    }
    let work = TempDir::new("lists-paths");
    let cgroup = TestCgroup::new("lists-paths");
    let file_a = work.path.join("a.txt");
    let file_b = work.path.join("b.txt");
    let link_a = work.path.join("other-name-of-a");
    let link_b = work.path.join("other-name-of-b");
    let zzz = work.path.join("zzz-forbidden.txt");
    let yyy = work.path.join("yyy-forbidden.txt");
    for path in [&file_a, &file_b, &zzz, &yyy] {
        fs::write(path, "x\n").expect("write a file");
    }
    fs::hard_link(&file_a, &link_a).expect("hard link");
    fs::hard_link(&file_b, &link_b).expect("hard link");
    let secrets = work.path.join("secrets.txt");
    let words = work.path.join("words.txt");
    fs::write(&secrets, format!("{}\n", file_a.display())).expect("secrets");
    fs::write(&words, "zzz-forbidden\n").expect("words");
    let policy = write_policy(
        &work,
        "paths.pol",
        "list secrets = file \"secrets.txt\"\nlist words = file \"words.txt\"\n\n\
         rule no_secrets {\n    on file.open\n    when file.path in secrets\n    deny\n}\n\n\
         rule no_words {\n    on file.open\n    when file.path contains words\n    deny\n}\n",
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    polrt.wait_stderr("list files compiled into its programs");

    assert!(!reads(&cgroup, &file_a), "a listed path is denied");
    assert!(!reads(&cgroup, &link_a), "and its file under another name");
    assert!(reads(&cgroup, &file_b));
    assert!(reads(&cgroup, &link_b));
    assert!(!reads(&cgroup, &zzz), "a compiled list denies");
    assert!(reads(&cgroup, &yyy));

    replace_file(&secrets, &format!("# now b\n{}\n", file_b.display()));
    wait_count(&polrt, "list `secrets` of policy `paths`", 1);
    assert!(!reads(&cgroup, &file_b), "the added path is denied");
    assert!(!reads(&cgroup, &link_b), "and its file under another name");
    assert!(reads(&cgroup, &file_a), "the removed path is allowed");
    assert!(reads(&cgroup, &link_a), "under any name");

    replace_file(&words, "yyy-forbidden\n");
    wait_count(&polrt, "reload: policy `paths` reloaded", 1);
    assert!(
        !reads(&cgroup, &yyy),
        "the compiled list's new entry denies"
    );
    assert!(reads(&cgroup, &zzz), "its old one no more");
    assert!(!reads(&cgroup, &file_b), "the path list stays as rewritten");

    let finished = polrt.stop_ok();
    let lists = finished.of_type("list");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0]["result"], "updated");
    let reloads = finished.of_type("reload");
    assert_eq!(reloads.len(), 1, "{reloads:?}");
    assert_eq!(reloads[0]["result"], "reloaded");
}

/// With `--persist`, a list's map is pinned with the policy: it keeps
/// enforcing when polrt stops, and a later run adopts it (no program
/// reloaded) and brings it up to date with the file as it is then.
#[test]
fn a_persisted_list_is_adopted_and_brought_up_to_date() {
    if !kernel_tests_enabled("a_persisted_list_is_adopted_and_brought_up_to_date") {
        return;
    }
    let work = TempDir::new("lists-persist");
    let cgroup = TestCgroup::new("lists-persist");
    let two = accepting_listener_on("127.0.0.2");
    let three = accepting_listener_on("127.0.0.3");
    let name = format!("listpersist{}", std::process::id());
    let nets = work.path.join("nets.txt");
    fs::write(&nets, "127.0.0.2\n").expect("nets");
    fs::write(work.path.join("ports.txt"), "1\n").expect("ports");
    let policy = write_policy(&work, &format!("{name}.pol"), POLICY);
    let polrt = Polrt::start(&policy, &cgroup, &work, &["--persist"]);
    assert!(!connects(&cgroup, "127.0.0.2", two));
    let finished = polrt.terminate();
    assert!(finished.status.success(), "{}", finished.stderr);
    assert!(
        !connects(&cgroup, "127.0.0.2", two),
        "the pinned list enforces without polrt"
    );
    // Changed while no polrt ran: the next run adopts the pins and reads
    // the file as it is now.
    fs::write(&nets, "127.0.0.3\n").expect("nets");
    let polrt = Polrt::start(&policy, &cgroup, &work, &["--persist"]);
    polrt.wait_stderr("adopted");
    assert!(
        !connects(&cgroup, "127.0.0.3", three),
        "the adopted map has the new entry"
    );
    assert!(connects(&cgroup, "127.0.0.2", two), "and not the old one");
    let finished = polrt.terminate();
    assert!(finished.status.success(), "{}", finished.stderr);
    let stop = Command::new(support::polrt_bin())
        .args(["stop", &name])
        .output()
        .expect("polrt stop");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert!(
        connects(&cgroup, "127.0.0.3", three),
        "stopped: nothing denies"
    );
}
