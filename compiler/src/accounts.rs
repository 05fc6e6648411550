//! The user and group databases user and group names are resolved from
//! (`proc.user == "root"`): `/etc/passwd` and `/etc/group` as the node has
//! them. polrt resolves a policy's names from the node's files when it
//! loads the policy, `polc test` from the files it is given; both read them
//! with this one parser, and events show the name a uid has in the same
//! file.
//!
//! The files are parsed as the C library's `files` source reads them: one
//! entry a line, fields separated by `:`, the name first and the id third;
//! the first entry of a name or an id wins; blank lines, `#` comments and
//! NIS `+`/`-` lines are skipped. Names that come from elsewhere (LDAP, SSSD)
//! are not known: a policy naming them is refused at load.

use std::collections::HashMap;

use crate::abi::AccountMeta;
use crate::check::hooks::{account_of, FieldId};
use crate::check::policy::{CheckedPolicy, Expr, TestOp, Value};

/// One database: names to ids and ids to names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Database {
    ids: HashMap<String, u32>,
    names: HashMap<u32, String>,
}

impl Database {
    /// Parses a `passwd` or `group` file's text.
    pub fn parse(text: &str) -> Database {
        let mut db = Database::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
                continue;
            }
            let mut parts = line.split(':');
            let (Some(name), Some(_), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let Ok(id) = id.trim().parse::<u32>() else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            db.ids.entry(name.to_string()).or_insert(id);
            db.names.entry(id).or_insert_with(|| name.to_string());
        }
        db
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The (first) name of `id`.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }
}

/// The user and group databases, with the files they were read from.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    pub users: Database,
    pub groups: Database,
    pub passwd_path: String,
    pub group_path: String,
}

impl Accounts {
    /// Reads both files.
    pub fn read(passwd: &std::path::Path, group: &std::path::Path) -> Result<Accounts, String> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map(|text| Database::parse(&text))
                .map_err(|e| format!("reading {}: {e}", path.display()))
        };
        Ok(Accounts {
            users: read(passwd)?,
            groups: read(group)?,
            passwd_path: passwd.display().to_string(),
            group_path: group.display().to_string(),
        })
    }

    /// The id of a user (`group`: group) name.
    pub fn id(&self, group: bool, name: &str) -> Option<u32> {
        if group {
            self.groups.id(name)
        } else {
            self.users.id(name)
        }
    }

    /// The ids of `names` (an object's [`crate::abi::Metadata::accounts`]),
    /// in order; an error naming every name the files lack.
    pub fn resolve(&self, names: &[AccountMeta]) -> Result<Vec<u32>, String> {
        let mut ids = Vec::new();
        let mut unknown = Vec::new();
        for account in names {
            match self.id(account.group, &account.name) {
                Some(id) => ids.push(id),
                None => unknown.push(self.describe(account.group, &account.name)),
            }
        }
        if unknown.is_empty() {
            Ok(ids)
        } else {
            Err(format!(
                "the policy names {} that this node does not have",
                unknown.join(", ")
            ))
        }
    }

    fn describe(&self, group: bool, name: &str) -> String {
        if group {
            format!("group `{name}` (not in {})", self.group_path)
        } else {
            format!("user `{name}` (not in {})", self.passwd_path)
        }
    }

    /// The values of the fields holding the ids of the names `policy`
    /// compares with (what the accounts map holds in the kernel), for an
    /// event of the interpreter or a test run; an error naming every name
    /// the files lack.
    pub fn event_values(&self, policy: &CheckedPolicy) -> Result<Vec<(FieldId, Value)>, String> {
        let fields = account_fields(policy);
        let names: Vec<AccountMeta> = fields
            .iter()
            .filter_map(|f| account_of(*f))
            .map(|(group, name)| AccountMeta {
                group,
                name: name.to_string(),
            })
            .collect();
        let ids = self.resolve(&names)?;
        Ok(fields
            .into_iter()
            .zip(ids)
            .map(|(field, id)| (field, Value::Int(u64::from(id))))
            .collect())
    }
}

/// The fields holding the ids of the user and group names `policy`
/// compares with, each once.
pub fn account_fields(policy: &CheckedPolicy) -> Vec<FieldId> {
    fn walk(expr: &Expr, out: &mut Vec<FieldId>) {
        match expr {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| walk(e, out)),
            Expr::Not(inner) => walk(inner, out),
            Expr::Test(test) => {
                if let TestOp::FieldCmp { other, .. } = test.op {
                    if account_of(other).is_some() && !out.contains(&other) {
                        out.push(other);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for rule in &policy.rules {
        if let Some(cond) = &rule.cond {
            walk(cond, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_entry_of_a_name_or_id_wins_and_odd_lines_are_skipped() {
        let db = Database::parse(
            "# comment\nroot:x:0:0:root:/root:/bin/bash\n\n+nis::::::\nbad line\n\
             toor:x:0:0::/root:/bin/sh\nroot:x:7:7::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\r\n\
             noid:x:abc:1::/:/bin/sh\n",
        );
        assert_eq!(db.id("root"), Some(0));
        assert_eq!(db.id("toor"), Some(0));
        assert_eq!(db.id("alice"), Some(1000));
        assert_eq!(db.name(0), Some("root"));
        assert_eq!(db.name(1000), Some("alice"));
        assert_eq!(db.id("noid"), None);
        assert_eq!(db.id("+nis"), None);
        assert_eq!(db.id("bad line"), None);
    }

    #[test]
    fn unknown_names_are_all_named() {
        let accounts = Accounts {
            users: Database::parse("root:x:0:0::/:/bin/sh\n"),
            groups: Database::parse("wheel:x:10:\n"),
            passwd_path: "P".into(),
            group_path: "G".into(),
        };
        let meta = |group: bool, name: &str| AccountMeta {
            group,
            name: name.into(),
        };
        assert_eq!(
            accounts.resolve(&[meta(false, "root"), meta(true, "wheel")]),
            Ok(vec![0, 10])
        );
        let err = accounts
            .resolve(&[
                meta(false, "nobody2"),
                meta(true, "root"),
                meta(false, "root"),
            ])
            .unwrap_err();
        assert!(err.contains("user `nobody2` (not in P)"), "{err}");
        assert!(err.contains("group `root` (not in G)"), "{err}");
    }

    #[test]
    fn names_decide_in_the_interpreter_with_the_ids_of_the_database() {
        let checked = crate::check::check_source("t.pol", "rule r { on exec when proc.user in [\"alice\", \"bob\"] and proc.group != \"wheel\" deny }");
        let policy = checked.policy.expect("checks");
        let accounts = Accounts {
            users: Database::parse("alice:x:1000:1000::/:/bin/sh\nbob:x:7:7::/:/bin/sh\n"),
            groups: Database::parse("wheel:x:10:\n"),
            passwd_path: "P".into(),
            group_path: "G".into(),
        };
        let names = accounts.event_values(&policy).expect("every name resolves");
        assert_eq!(names.len(), 3);
        let decide = |uid: u64, gid: u64| {
            let event = crate::interp::Event::new(
                [
                    (
                        FieldId::from_name("proc.uid").expect("field"),
                        Value::Int(uid),
                    ),
                    (
                        FieldId::from_name("proc.gid").expect("field"),
                        Value::Int(gid),
                    ),
                ]
                .into_iter()
                .chain(names.iter().cloned()),
            );
            crate::interp::evaluate(&policy, crate::check::hooks::Hook::Exec, &event).action
        };
        assert_eq!(decide(1000, 1000), crate::check::policy::Action::Deny);
        assert_eq!(decide(7, 0), crate::check::policy::Action::Deny);
        assert_eq!(
            decide(7, 10),
            crate::check::policy::Action::Allow,
            "in wheel"
        );
        assert_eq!(
            decide(0, 0),
            crate::check::policy::Action::Allow,
            "root is no name of the policy"
        );
        // A database without one of the names resolves nothing.
        let lacking = Accounts {
            users: Database::parse("alice:x:1000:1000::/:/bin/sh\n"),
            ..accounts
        };
        let err = lacking.event_values(&policy).unwrap_err();
        assert!(err.contains("user `bob` (not in P)"), "{err}");
    }
}
