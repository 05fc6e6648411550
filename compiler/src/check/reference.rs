//! Reference tables generated from THE table in `hooks`: the hooks and fields
//! sections of `docs/language.md` (a test keeps the page in sync) and the
//! help texts of the CLI. Nothing here lists a hook or field by hand.

use crate::check::hooks::{FieldId, FieldScope, FieldType, Hook, HOOKS};

/// Markdown table of the hooks, their fields and their backends.
pub fn hooks_markdown() -> String {
    let mut out = String::from("| hook | when | fields beyond `proc.*` | backends (strongest first) |\n|---|---|---|---|\n");
    for spec in HOOKS {
        let fields: Vec<String> = FieldId::all()
            .filter(|f| f.spec().scope.hooks().contains(&spec.hook))
            .map(|f| format!("`{}`", f.spec().name))
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
    for field in FieldId::all() {
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
            if spec.resolved_path {
                format!(
                    "path (str, ≤ {} bytes, resolved)",
                    crate::check::hooks::RESOLVED_PATH_MAX
                )
            } else {
                type_markdown(spec.ty)
            },
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
        .map(|hook| {
            let fields: Vec<&str> = FieldId::all()
                .filter(|f| f.spec().scope.hooks().contains(hook))
                .map(|f| f.spec().name)
                .collect();
            format!("  {:<12} {}", hook.name(), fields.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
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
        for field in FieldId::all() {
            assert!(fields.contains(&format!("| `{}` |", field.spec().name)));
        }
        assert!(hooks_summary().contains("file.open"));
    }
}
