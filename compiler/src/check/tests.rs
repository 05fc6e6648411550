//! Unit tests of the checker: what a condition resolves to, and which code a
//! mistake gets. (Rendered diagnostics are golden-tested in `tests/ui`.)

use super::*;
use crate::check::hooks::{FieldId, Hook};
use crate::check::policy::{Action, CmpOp, Expr, RuleKind, StrOp, TemplatePart, TestOp};

fn ok(source: &str) -> CheckedPolicy {
    let checked = check_source("t.pol", source);
    let errors: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    checked.policy.expect("a policy when there is no error")
}

fn codes(source: &str) -> Vec<Code> {
    let checked = check_source("t.pol", source);
    assert_eq!(checked.policy.is_some(), !checked.has_errors());
    checked.diagnostics.iter().map(|d| d.code).collect()
}

fn cond(hook: &str, when: &str) -> Expr {
    let policy = ok(&format!("rule r {{ on {hook} when {when} deny }}"));
    policy.rules[0].cond.clone().expect("a condition")
}

fn field(name: &str) -> FieldId {
    FieldId::from_name(name).expect("a field")
}

fn test_of(expr: &Expr) -> (&FieldId, &TestOp) {
    match expr {
        Expr::Test(test) => (&test.field, &test.op),
        other => panic!("not a test: {other:?}"),
    }
}

#[test]
fn seed_policy_checks_clean() {
    let policy = ok(include_str!("../../../examples/overview.pol"));
    assert_eq!(policy.rules.len(), 5);
    for (i, rule) in policy.rules.iter().enumerate() {
        assert_eq!(rule.id as usize, i);
    }
    assert_eq!(policy.rules[4].kind, RuleKind::Trace);
    assert_eq!(policy.rules[4].action, Action::Trace);
    assert_eq!(policy.rules[4].emit.len(), 4);
    assert_eq!(policy.source_hash.len(), 64);
    assert_eq!(
        policy.hooks(),
        vec![
            Hook::Exec,
            Hook::FileOpen,
            Hook::NetConnect,
            Hook::ModuleLoad
        ]
    );
}

#[test]
fn ints_compare_and_flip() {
    let expr = cond("exec", "0 == proc.uid");
    assert_eq!(
        test_of(&expr),
        (
            &field("proc.uid"),
            &TestOp::IntCmp {
                op: CmpOp::Eq,
                value: 0
            }
        )
    );
    let expr = cond("exec", "1000 < proc.uid");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::IntCmp {
            op: CmpOp::Gt,
            value: 1000
        }
    );
    let expr = cond("net.connect", "net.family == AF_INET6");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::IntCmp {
            op: CmpOp::Eq,
            value: 10
        }
    );
    let expr = cond("file.open", "file.flags >= 0x41");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::IntCmp {
            op: CmpOp::Ge,
            value: 0x41
        }
    );
}

#[test]
fn not_equal_and_not_in_are_negations() {
    let Expr::Not(inner) = cond("exec", "proc.uid != 0") else {
        panic!("not")
    };
    assert_eq!(
        test_of(&inner).1,
        &TestOp::IntCmp {
            op: CmpOp::Eq,
            value: 0
        }
    );
    let Expr::Not(inner) = cond("exec", "proc.comm not in [\"a\"]") else {
        panic!("not")
    };
    assert!(matches!(test_of(&inner).1, TestOp::In(_)));
}

#[test]
fn strings_lists_and_inline_lists() {
    let policy = ok("list shells = [\"/bin/sh\"]\nrule r { on exec when exec.path in shells or exec.path startswith [\"/tmp/\", \"/dev/shm/\"] or proc.comm endswith \"sh\" deny }");
    let Some(Expr::Or(terms)) = &policy.rules[0].cond else {
        panic!("or")
    };
    assert_eq!(test_of(&terms[0]).1, &TestOp::In(ListId(0)));
    assert_eq!(
        test_of(&terms[1]).1,
        &TestOp::StrAny {
            op: StrOp::StartsWith,
            list: ListId(1)
        }
    );
    assert_eq!(policy.lists[1].name, None);
    assert_eq!(policy.lists[1].elems.len(), 2);
    assert_eq!(
        test_of(&terms[2]).1,
        &TestOp::Str {
            op: StrOp::EndsWith,
            value: "sh".to_string()
        }
    );
}

#[test]
fn ips_and_networks() {
    let expr = cond("net.connect", "net.daddr in 10.0.0.0/8");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::IpIn {
            addr: "10.0.0.0".parse().expect("ip"),
            prefix: 8
        }
    );
    let expr = cond("net.connect", "net.daddr == ::1");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::IpIn {
            addr: "::1".parse().expect("ip"),
            prefix: 128
        }
    );
}

#[test]
fn bools_bare_and_compared() {
    assert_eq!(test_of(&cond("file.open", "file.write")).1, &TestOp::IsTrue);
    assert_eq!(
        test_of(&cond("file.open", "file.write == true")).1,
        &TestOp::IsTrue
    );
    assert_eq!(
        test_of(&cond("file.open", "file.write != false")).1,
        &TestOp::IsTrue
    );
    assert!(matches!(
        cond("file.open", "file.write == false"),
        Expr::Not(_)
    ));
}

#[test]
fn macros_expand_in_place_and_flatten() {
    let policy = ok("macro root = proc.uid == 0\nmacro admin = root or proc.gid == 0\nrule r { on exec when admin or proc.uid == 1 deny }");
    let Some(Expr::Or(terms)) = &policy.rules[0].cond else {
        panic!("or")
    };
    assert_eq!(terms.len(), 3);
}

#[test]
fn messages_become_templates() {
    let policy = ok("rule r { on exec deny \"{{x}} {proc.comm} ran {exec.path}\" }");
    let template = policy.rules[0].message.as_ref().expect("a message");
    assert_eq!(
        template.parts,
        vec![
            TemplatePart::Text("{x} ".to_string()),
            TemplatePart::Field(field("proc.comm")),
            TemplatePart::Text(" ran ".to_string()),
            TemplatePart::Field(field("exec.path")),
        ]
    );
    assert_eq!(
        policy.rules[0].captured_fields(),
        vec![field("proc.comm"), field("exec.path")]
    );
}

#[test]
fn policy_tests_are_typed() {
    let policy = ok("rule r { on net.connect when net.dport == 25 kill }\ntrace t { on net.connect emit net.daddr }\n\
                     test \"smtp\" { on net.connect with net.dport = 25, net.daddr = 1.2.3.4 expect kill by r expect traces t }");
    let test = &policy.tests[0];
    assert_eq!(test.hook, Hook::NetConnect);
    assert_eq!(test.expect, Action::Kill);
    assert_eq!(test.expect_rule, Some(0));
    assert_eq!(test.expect_traces, Some(vec![1]));
    assert_eq!(test.fields[0], (field("net.dport"), Value::Int(25)));
}

#[test]
fn type_errors_get_their_codes() {
    let rule = |when: &str| codes(&format!("rule r {{ on exec when {when} deny }}"));
    assert_eq!(rule("proc.uid == \"root\""), vec![Code::E0207]);
    assert_eq!(rule("proc.comm < 3"), vec![Code::E0206]);
    assert_eq!(rule("proc.uid == 4294967296"), vec![Code::E0209]);
    assert_eq!(rule("proc.uid == -1"), vec![Code::E0209]);
    assert_eq!(rule("proc.uid in [\"a\"]"), vec![Code::E0208]);
    assert_eq!(rule("proc.uid in [1, \"a\"]"), vec![Code::E0211]);
    assert_eq!(rule("proc.uid == proc.comm"), vec![Code::E0214]);
    assert_eq!(rule("1 == 1"), vec![Code::E0215]);
    assert_eq!(rule("\"sh\" in proc.comm"), vec![Code::E0215]);
    assert_eq!(rule("proc.uid"), vec![Code::E0217]);
    assert_eq!(rule("proc.uid in nothing"), vec![Code::E0202]);
    assert_eq!(rule("nothing"), vec![Code::E0203]);
    assert_eq!(rule("file.write"), vec![Code::E0302]);
    assert_eq!(rule("proc.comm == \"0123456789abcdef\""), vec![Code::E0213]);
    assert_eq!(rule("proc.comm == \"0123456789abcde\""), Vec::<Code>::new());
    assert_eq!(rule("proc.uid in 0"), vec![Code::E0216]);
}

#[test]
fn several_errors_are_reported_in_one_run() {
    let found = codes(
        "rule a { on exec when proc.uid == \"x\" deny }\nrule b { on nowhere deny }\nlist e = []\n",
    );
    assert_eq!(found, vec![Code::E0207, Code::E0301, Code::E0212]);
}

#[test]
fn macro_errors_name_the_use_site() {
    let checked = check_source(
        "t.pol",
        "macro m = file.path == \"/x\"\nrule r { on exec when m deny }\n",
    );
    let diagnostic = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::E0302)
        .expect("E0302");
    assert!(
        diagnostic
            .labels
            .iter()
            .any(|l| l.message == "in this use of macro `m`"),
        "{diagnostic:#?}"
    );
}

#[test]
fn exponential_macros_are_cut_off() {
    let mut source = String::from("macro m0 = proc.uid == 0\n");
    for i in 1..40 {
        source.push_str(&format!("macro m{i} = m{} or m{}\n", i - 1, i - 1));
    }
    source.push_str("rule r { on exec when m39 deny }\n");
    assert_eq!(codes(&source), vec![Code::E0219]);
}

#[test]
fn long_macro_chains_are_cut_off() {
    let mut source = String::from("macro m0 = proc.uid == 0\n");
    for i in 1..100 {
        source.push_str(&format!("macro m{i} = not m{}\n", i - 1));
    }
    source.push_str("rule r { on exec when m99 deny }\n");
    assert_eq!(codes(&source), vec![Code::E0219]);
}

#[test]
fn lints_find_shadowed_rules() {
    let source = "rule a { on exec when proc.uid == 0 deny }\nrule b { on exec when proc.uid == 0 and proc.gid == 0 audit }\n\
                  rule c { on file.open audit }\nrule d { on file.open when file.write deny }\nrule e { on exec when proc.uid == 1 deny }\n";
    assert_eq!(codes(source), vec![Code::W0003, Code::W0003]);
    assert_eq!(codes("rule a { on exec when proc.uid in [1] deny }\nrule b { on exec when proc.uid in [1] deny }\n"), vec![Code::W0003]);
    assert!(codes("rule a { on exec when proc.uid in [1] deny }\nrule b { on exec when proc.uid in [2] deny }\n").is_empty());
}

#[test]
fn a_shadowed_rule_names_the_earliest_rule_whose_terms_it_has() {
    let source = "rule a { on exec when proc.gid == 5 and proc.uid == 1 deny }\n\
                  rule b { on exec when proc.uid == 1 deny }\n\
                  rule c { on file.open when proc.uid == 1 deny }\n\
                  rule d { on exec when proc.gid == 5 and proc.uid == 1 and exec.path == \"/x\" audit }\n";
    let checked = check_source("t.pol", source);
    let shadowed: Vec<&str> = checked
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::W0003)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(shadowed, vec!["rule `d` can never match"]);
    let w = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::W0003)
        .expect("a warning");
    assert!(
        w.notes.iter().any(|n| n.contains("`a` tests a subset")),
        "{w:?}"
    );
}

#[test]
fn thousands_of_rules_check_and_keep_their_lines() {
    let mut source = String::new();
    for i in 0..5000 {
        source.push_str(&format!(
            "rule r{i} {{\n    on exec\n    when proc.uid == {i}\n    deny\n}}\n"
        ));
    }
    let checked = check_source("t.pol", &source);
    let policy = checked.policy.expect("checks");
    assert!(checked.diagnostics.iter().all(|d| !d.is_error()));
    assert_eq!(policy.rules[4999].line, 4999 * 5 + 1);
}

#[test]
fn has_tests_every_bit_and_has_any_one_of_them() {
    let expr = cond("file.open", "file.flags has O_TRUNC");
    assert_eq!(
        test_of(&expr),
        (
            &field("file.flags"),
            &TestOp::Bits {
                mask: 0o1000,
                all: true
            }
        )
    );
    let expr = cond("file.open", "file.flags has [O_CREAT, O_TRUNC]");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::Bits {
            mask: 0o1100,
            all: true
        }
    );
    let expr = cond("file.open", "file.flags has any [O_WRONLY, O_RDWR]");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::Bits {
            mask: 0o3,
            all: false
        }
    );
    let expr = cond("proc.capset", "capset.effective has CAP_SYS_ADMIN");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::Bits {
            mask: 1 << 21,
            all: true
        }
    );
    let expr = cond("file.mmap", "mmap.prot has 0x4");
    assert_eq!(test_of(&expr).1, &TestOp::Bits { mask: 4, all: true });
    // `has any` after `has` only: `any` is an ordinary name elsewhere.
    ok("list any = [1, 2]\nrule r { on exec when proc.uid in any deny }");
    let rule = |when: &str| codes(&format!("rule r {{ on file.open when {when} deny }}"));
    assert_eq!(rule("file.flags has O_RDONLY"), vec![Code::E0290]);
    assert_eq!(rule("file.flags has any []"), vec![Code::E0212]);
    assert_eq!(rule("file.flags has 0"), vec![Code::E0290]);
    assert_eq!(rule("file.path has O_TRUNC"), vec![Code::E0206]);
    assert_eq!(rule("file.flags has \"x\""), vec![Code::E0207]);
    assert_eq!(rule("file.flags has 0x100000000"), vec![Code::E0209]);
    assert_eq!(
        rule("file.flags has CAP_BPF"),
        vec![Code::E0209, Code::W0075]
    );
    assert_eq!(rule("file.flags has PROT_EXEC"), vec![Code::W0075]);
    assert_eq!(rule("file.flags == SIGKILL"), vec![Code::W0075]);
    assert_eq!(rule("file.read and not file.write"), Vec::<Code>::new());
    assert_eq!(
        codes("rule r { on socket.create when socket.type has SOCK_DGRAM deny }"),
        vec![Code::W0076]
    );
    assert_eq!(
        codes("rule r { on socket.create when socket.type in [SOCK_DGRAM, O_TRUNC] deny }"),
        vec![Code::W0075]
    );
}

#[test]
fn path_parts_take_their_operators_and_names_without_slash() {
    let rule = |when: &str| codes(&format!("rule r {{ on file.open when {when} deny }}"));
    assert_eq!(rule("file.name == \"a/b\""), vec![Code::E0292]);
    assert_eq!(rule("file.dir contains \"x\""), vec![Code::E0206]);
    assert_eq!(rule("file.dir == 1"), vec![Code::E0207]);
    assert_eq!(
        codes("rule r { on exec when file.dir == \"/etc\" deny }"),
        vec![Code::E0302]
    );
    ok("rule r { on exec when exec.dir == \"/tmp\" and exec.name startswith \".\" deny }");
    // The running executable's parts on every hook; a new path's on the
    // hooks with one.
    ok("rule r { on net.connect when proc.exe.dir == \"/tmp\" or proc.exe.name == \"nc\" deny }");
    ok("rule r { on file.rename when file.newdir == \"/etc\" and file.newname startswith \".\" deny }");
    ok("rule r { on file.link when file.newdir in [\"/etc\", \"/usr/bin\"] deny }");
    assert_eq!(rule("proc.exe.name == \"bin/nc\""), vec![Code::E0292]);
    assert_eq!(rule("proc.exe.dir endswith \"bin\""), vec![Code::E0206]);
    assert_eq!(
        codes("rule r { on file.open when file.newname == \"x\" deny }"),
        vec![Code::E0302]
    );
}

#[test]
fn two_int_fields_compare_and_others_do_not() {
    let expr = cond("file.chown", "file.uid != proc.uid");
    let Expr::Not(inner) = expr else {
        panic!("`!=` is `not ==`: {expr:?}")
    };
    assert_eq!(
        test_of(&inner),
        (
            &field("file.uid"),
            &TestOp::FieldCmp {
                op: CmpOp::Eq,
                other: field("proc.uid")
            }
        )
    );
    let expr = cond("exec", "proc.uid < proc.gid");
    assert_eq!(
        test_of(&expr).1,
        &TestOp::FieldCmp {
            op: CmpOp::Lt,
            other: field("proc.gid")
        }
    );
    let rule = |hook: &str, when: &str| codes(&format!("rule r {{ on {hook} when {when} deny }}"));
    assert_eq!(rule("exec", "proc.uid == proc.comm"), vec![Code::E0214]);
    assert_eq!(rule("exec", "exec.path == proc.exe"), vec![Code::E0214]);
    assert_eq!(rule("exec", "proc.uid in proc.gid"), vec![Code::E0206]);
    assert_eq!(rule("exec", "file.uid == proc.uid"), vec![Code::E0302]);
}

// Indexed fields.

#[test]
fn indexed_names_resolve_to_one_field_per_element() {
    let one = field("exec.args[1]");
    assert_eq!(one, field("exec.args[1]"), "an element has one id");
    assert_ne!(one, field("exec.args[2]"));
    assert_eq!(one.spec().name, "exec.args[1]");
    let (family, index) = one.element().expect("an element");
    assert_eq!(family.spec().name, "exec.args[N]");
    assert_eq!(index, crate::check::hooks::Index::At(1));
    let env = field("exec.env[\"LD_PRELOAD\"]");
    assert_eq!(env.spec().name, "exec.env[\"LD_PRELOAD\"]");
    assert_eq!(env.spec().ty, field("exec.env[\"PATH\"]").spec().ty);
    use crate::check::hooks::{resolve_indexed, IndexError};
    assert!(matches!(
        resolve_indexed("exec.args[16]"),
        Err(IndexError::OutOfRange { bound: 16, .. })
    ));
    assert!(matches!(
        resolve_indexed("exec.args[*]"),
        Err(IndexError::Any(_))
    ));
    assert!(matches!(
        resolve_indexed("proc.uid[0]"),
        Err(IndexError::NotIndexed(_))
    ));
    assert!(matches!(
        resolve_indexed("exec.env[1]"),
        Err(IndexError::PositionOnKeyed(_))
    ));
    assert!(matches!(
        resolve_indexed("exec.args[\"a\"]"),
        Err(IndexError::KeyOnPositional(_))
    ));
    assert!(matches!(
        resolve_indexed("nothing[1]"),
        Err(IndexError::Unknown)
    ));
}

#[test]
fn any_element_is_an_or_of_existing_elements() {
    let expr = cond("exec", "exec.args[*] == \"-e\"");
    let Expr::Or(terms) = &expr else {
        panic!("not an or: {expr:?}");
    };
    assert_eq!(terms.len(), 16);
    for (n, term) in terms.iter().enumerate() {
        let Expr::And(parts) = term else {
            panic!("not guarded: {term:?}");
        };
        assert_eq!(test_of(&parts[0]).0, &field("exec.argc"));
        assert_eq!(
            test_of(&parts[0]).1,
            &TestOp::IntCmp {
                op: CmpOp::Gt,
                value: n as u64
            },
            "element {n} exists when argc > {n}"
        );
        assert_eq!(test_of(&parts[1]).0, &field(&format!("exec.args[{n}]")));
    }
}

#[test]
fn index_mistakes_get_their_codes() {
    let rule = |when: &str| format!("rule r {{ on exec when {when} deny }}");
    for when in [
        "exec.args[16] == \"\"",
        "exec.args[\"x\"] == \"\"",
        "exec.env[0] == \"\"",
        "exec.env[\"A B\"] == \"\"",
        "proc.uid[0] == 0",
        "exec.env[*] == \"\"",
    ] {
        assert_eq!(codes(&rule(when)), vec![Code::E0260], "{when}");
    }
    assert_eq!(
        codes("trace t { on exec emit exec.args[*] }"),
        vec![Code::E0261]
    );
    assert_eq!(
        codes("rule r { on file.open when exec.args[1] == \"\" deny }"),
        vec![Code::E0302]
    );
    assert_eq!(codes(&rule("exec.args[1] == \"-e\"")), vec![Code::W0060]);
}

#[test]
fn tests_that_give_arguments_get_argc_and_the_command_line() {
    let policy = ok(
        "rule miner { on exec when exec.cmdline contains \"stratum+tcp\" deny }\n\
                     test \"t\" { on exec with exec.args[0] = \"xmrig\", exec.args[1] = \"-o\", \
                     exec.args[2] = \"stratum+tcp://pool:3333\" expect deny by miner }",
    );
    let test = &policy.tests[0];
    let get = |name: &str| {
        test.fields
            .iter()
            .find(|(f, _)| *f == field(name))
            .map(|(_, v)| v.clone())
    };
    use crate::check::policy::Value;
    assert_eq!(get("exec.argc"), Some(Value::Int(3)));
    assert_eq!(
        get("exec.cmdline"),
        Some(Value::Str("xmrig -o stratum+tcp://pool:3333".to_string()))
    );
}

// user and group names (`proc.user == "root"`)

#[test]
fn a_name_is_a_comparison_of_the_id_field_with_the_id_the_node_gives_it() {
    use crate::check::hooks::account_of;
    let expr = cond("exec", "proc.user == \"root\"");
    let (id, op) = test_of(&expr);
    assert_eq!(*id, field("proc.uid"));
    let TestOp::FieldCmp { op, other } = op else {
        panic!("{op:?}")
    };
    assert_eq!(*op, CmpOp::Eq);
    assert_eq!(account_of(*other), Some((false, "root")));
    // `!=` and `not in` are negations; `in` one comparison per name, once
    // each; groups read the group database.
    let Expr::Not(inner) = cond("exec", "proc.egroup != \"wheel\"") else {
        panic!("a negation")
    };
    let (id, op) = test_of(&inner);
    assert_eq!(*id, field("proc.egid"));
    assert!(
        matches!(op, TestOp::FieldCmp { other, .. } if account_of(*other) == Some((true, "wheel")))
    );
    let Expr::Or(items) = cond("exec", "proc.loginuser in [\"a\", \"b-c.d_e\", \"a\"]") else {
        panic!("an or")
    };
    let names: Vec<_> = items
        .iter()
        .map(|item| match test_of(item) {
            (id, TestOp::FieldCmp { other, .. }) => (*id, account_of(*other)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (field("proc.auid"), Some((false, "a"))),
            (field("proc.auid"), Some((false, "b-c.d_e")))
        ]
    );
    assert!(matches!(
        cond("exec", "proc.euser not in [\"x\"]"),
        Expr::Not(_)
    ));
}

#[test]
fn names_are_checked_and_used_only_in_conditions() {
    for (when, code) in [
        ("proc.user == \"\"", Code::E0280),
        ("proc.user == \"a:b\"", Code::E0280),
        ("proc.group in [\"ok\", \"white space\"]", Code::E0280),
        ("proc.user == 0", Code::E0207),
        ("proc.user startswith \"a\"", Code::E0206),
        ("proc.user in [1, 2]", Code::E0208),
        ("proc.user in \"root\"", Code::E0216),
        ("proc.user == proc.group", Code::E0214),
        ("proc.user != file.uid", Code::E0214),
    ] {
        let source = format!("rule r {{ on exec when {when} deny }}");
        assert_eq!(codes(&source), vec![code], "{when}");
    }
    assert_eq!(
        codes("rule r { on exec when proc.user == \"root\" audit \"{proc.user}\" }"),
        vec![Code::E0281]
    );
    assert_eq!(
        codes("trace t { on exec emit proc.egroup }"),
        vec![Code::E0281]
    );
    // A literal on the left, as for fields.
    let flipped = cond("exec", "\"root\" == proc.user");
    assert_eq!(*test_of(&flipped).0, field("proc.uid"));
}

#[test]
fn allow_silences_a_warning_for_its_policy_only_and_refuses_errors() {
    let rule = "rule r { on exec when exec.env[\"LD_PRELOAD\"] != \"\" deny }";
    assert_eq!(codes(rule), vec![Code::W0060]);
    assert_eq!(codes(&format!("allow W0060 \"why\"\n{rule}")), vec![]);
    assert_eq!(codes(&format!("{rule}\nallow w0060")), vec![]);
    // Another warning is still reported.
    assert_eq!(
        codes(&format!("allow W0060\nlist unused = [1]\n{rule}")),
        vec![Code::W0001]
    );
    // An allow of a warning the policy does not get is reported.
    assert_eq!(
        codes("allow W0060\nrule r { on exec when exec.path == \"/x\" deny }"),
        vec![Code::W0085]
    );
    // (Lints run on policies without errors only.)
    assert_eq!(codes(&format!("allow E0201\n{rule}")), vec![Code::E0283]);
    assert_eq!(codes(&format!("allow X1\n{rule}")), vec![Code::E0283]);
}
