//! Reference tables generated from THE table in `hooks`: the hooks and fields
//! sections of `docs/language.md` (a test keeps the page in sync) and the
//! help texts of the CLI. Nothing here lists a hook or field by hand.

use crate::check::hooks::{BackendKind, FieldId, FieldScope, FieldSource, FieldType, Hook, HOOKS};

/// The names of the fields of `hook` beyond the common `proc.*` ones.
pub fn own_fields(hook: Hook) -> Vec<&'static str> {
    FieldId::all()
        .filter(|f| f.spec().scope.hooks().contains(&hook))
        .map(|f| f.spec().name)
        .collect()
}

/// Markdown table of the hooks, their fields and their backends.
pub fn hooks_markdown() -> String {
    let mut out = String::from("| hook | when | fields beyond `proc.*` | backends (strongest first) |\n|---|---|---|---|\n");
    for spec in HOOKS {
        let fields: Vec<String> = own_fields(spec.hook)
            .iter()
            .map(|name| format!("`{name}`"))
            .collect();
        let backends: Vec<String> = spec
            .backends
            .iter()
            .map(|b| {
                let mut sections: Vec<String> = Vec::new();
                for attach in b.attach {
                    let section = format!("`{}`", attach.section);
                    if !sections.contains(&section) {
                        sections.push(section);
                    }
                }
                format!("{} ({})", b.kind.name(), sections.join(", "))
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            spec.name,
            spec.doc,
            if fields.is_empty() {
                "none".to_string()
            } else {
                fields.join(", ")
            },
            backends.join("; ")
        ));
    }
    out
}

/// Markdown table of every field: name, type, hooks, meaning.
pub fn fields_markdown() -> String {
    let mut out = String::from("| field | type | hooks | meaning |\n|---|---|---|---|\n");
    for field in FieldId::all().filter(|f| !f.spec().internal()) {
        let spec = field.spec();
        let hooks = match spec.scope {
            FieldScope::Common => "all".to_string(),
            scope => scope
                .hooks()
                .iter()
                .map(|hook| format!("`{}`", hook.name()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            spec.name,
            type_text(field),
            hooks,
            spec.doc.replace('|', "\\|")
        ));
    }
    out
}

fn type_markdown(ty: FieldType) -> String {
    match ty {
        FieldType::Int { bits } => format!("int (u{bits})"),
        FieldType::Str { max } => format!("str (≤ {} bytes)", max - 1),
        FieldType::Ip => "ip".to_string(),
        FieldType::Bool => "bool".to_string(),
    }
}

/// One line per hook with its own fields, for `--help` texts.
pub fn hooks_summary() -> String {
    Hook::ALL
        .iter()
        .map(|hook| format!("  {:<12} {}", hook.name(), own_fields(*hook).join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The hook names, as written in policies.
pub fn hook_names() -> Vec<&'static str> {
    HOOKS.iter().map(|spec| spec.name).collect()
}

/// The backends of `hook` on which `field` has a value: those where some
/// program of the backend reads it from the kernel (elsewhere it is
/// empty). Strongest first.
pub fn field_backends(field: FieldId, hook: Hook) -> Vec<BackendKind> {
    hook.spec()
        .backends
        .iter()
        .filter(|backend| {
            // A backend that cannot read it somewhere is left out of policies
            // that use it (W0060).
            let unreadable = backend
                .attach
                .iter()
                .any(|attach| field.source(attach) == Some(FieldSource::Unreadable));
            !unreadable
                && backend.attach.iter().any(|attach| {
                    field
                        .source(attach)
                        .is_some_and(|source| source != FieldSource::EmptyStr)
                })
        })
        .map(|backend| backend.kind)
        .collect()
}

/// The field's type as the docs write it.
pub fn type_text(field: FieldId) -> String {
    let spec = field.spec();
    if spec.resolved_path {
        format!(
            "path (str, ≤ {} bytes, resolved)",
            crate::check::hooks::RESOLVED_PATH_MAX
        )
    } else {
        type_markdown(spec.ty)
    }
}

/// `polc fields [HOOK]`: per hook, what it is, its backends, and every
/// field rules on it can use with type, backends and meaning.
pub fn fields_text(only: Option<Hook>) -> String {
    let mut out = String::new();
    for spec in HOOKS
        .iter()
        .filter(|spec| only.is_none_or(|h| h == spec.hook))
    {
        let backends: Vec<&str> = spec.backends.iter().map(|b| b.kind.name()).collect();
        out.push_str(&format!(
            "{}: {}\n  backends (strongest first): {}\n",
            spec.name,
            spec.doc,
            backends.join(", ")
        ));
        let fields: Vec<FieldId> = FieldId::all()
            .filter(|f| f.available_on(spec.hook))
            .collect();
        let name_width = fields
            .iter()
            .map(|f| f.spec().name.len())
            .max()
            .unwrap_or(0);
        let types: Vec<String> = fields.iter().map(|f| type_text(*f)).collect();
        let type_width = types.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        for (field, ty) in fields.iter().zip(&types) {
            let on = field_backends(*field, spec.hook);
            let on = if on.len() == spec.backends.len() {
                "all".to_string()
            } else if on.is_empty() {
                "none".to_string()
            } else {
                on.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
            };
            out.push_str(&format!(
                "  {:<name_width$}  {:<type_width$}  {:<10}  {}\n",
                field.spec().name,
                ty,
                on,
                field.spec().doc,
                type_width = type_width
            ));
        }
        out.push('\n');
    }
    // user and group names
    out.push_str(
        "user and group names (where their id field is; `==`, `!=`, `in`, `not in` with names \
         resolved from the node's /etc/passwd and /etc/group when polrt loads the policy):\n",
    );
    for (name, id, group) in super::cond::accounts::ACCOUNT_NAMES {
        let db = if *group { "group" } else { "user" };
        out.push_str(&format!("  {name:<15} the {db} name of {id}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_name_every_hook_and_field() {
        let hooks = hooks_markdown();
        let fields = fields_markdown();
        for spec in HOOKS {
            assert!(hooks.contains(&format!("| `{}` |", spec.name)));
        }
        for field in FieldId::all().filter(|f| !f.spec().internal()) {
            assert!(fields.contains(&format!("| `{}` |", field.spec().name)));
        }
        assert!(hooks_summary().contains("file.open"));
    }

    #[test]
    fn the_fields_text_covers_each_hook_and_its_fields() {
        let all = fields_text(None);
        for spec in HOOKS {
            assert!(all.contains(&format!("{}: ", spec.name)), "{all}");
        }
        let exec = fields_text(Some(Hook::Exec));
        assert!(exec.starts_with("exec: "), "{exec}");
        assert!(exec.contains("  exec.path "), "{exec}");
        assert!(exec.contains("  proc.uid "), "{exec}");
        assert!(!exec.contains("file.path"), "{exec}");
        // module.path comes from memory on no backend, but from a file on
        // both: it is known on every backend of module.load.
        let module = FieldId::from_name("module.path").expect("field");
        assert!(!field_backends(module, Hook::ModuleLoad).is_empty());
    }
}
