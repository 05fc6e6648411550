//! `polrt inspect`: what an object holds — metadata, rules, hooks with their
//! backends and what each enforces, programs, maps — from the ELF and its
//! metadata alone. Needs no privileges and never touches the kernel.
//!
//! Depends on `object` only: what each backend enforces is in the metadata.

use std::fmt::Write as _;

use polc_abi::MessagePart;

use crate::object::PolicyObject;

/// The human description of an object.
pub fn render(object: &PolicyObject) -> String {
    let m = &object.metadata;
    let mut out = String::new();
    let _ = writeln!(out, "object:    {}", object.path);
    let _ = writeln!(
        out,
        "policy:    {} (sha256 {})",
        m.source_name, m.source_hash
    );
    let _ = writeln!(
        out,
        "compiler:  polc {} (object format version {})",
        m.compiler_version, m.abi_version
    );
    let _ = writeln!(out, "\nrules ({}):", m.rules.len());
    for rule in &m.rules {
        let message: String = rule
            .message
            .iter()
            .map(|part| match part {
                MessagePart::Text(text) => text.clone(),
                MessagePart::Field(field) => format!("{{{field}}}"),
            })
            .collect();
        let _ = write!(
            out,
            "  #{:<3} {:<5} {:<24} on {:<12} {:<6} line {}",
            rule.id, rule.kind, rule.name, rule.hook, rule.action, rule.line
        );
        if !message.is_empty() {
            let _ = write!(out, "  \"{message}\"");
        }
        if !rule.fields.is_empty() {
            let _ = write!(out, "  captures {}", rule.fields.join(", "));
        }
        out.push('\n');
    }
    if !m.accounts.is_empty() {
        let names: Vec<String> = m
            .accounts
            .iter()
            .map(|a| format!("{} {}", if a.group { "group" } else { "user" }, a.name))
            .collect();
        let _ = writeln!(
            out,
            "\nnames resolved from the node's databases at load ({}): {}",
            names.len(),
            names.join(", ")
        );
    }
    let _ = writeln!(out, "\nhooks ({}):", m.hooks.len());
    for hook in &m.hooks {
        let _ = writeln!(
            out,
            "  {} (records of {} bytes: {})",
            hook.name,
            hook.record_len,
            hook.fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for backend in &hook.backends {
            let _ = writeln!(
                out,
                "    {:<10} {}",
                backend.kind.name(),
                backend.deny_means
            );
        }
    }
    let _ = writeln!(out, "\nprograms ({}):", m.programs.len());
    let _ = writeln!(
        out,
        "  {:<28} {:<40} {:<12} {:<10} {:>6} {:>9} {:>6}",
        "symbol", "section", "hook", "backend", "insns", "max path", "stack"
    );
    for p in &m.programs {
        let hook = if p.hook.is_empty() {
            "(support)"
        } else {
            &p.hook
        };
        let _ = writeln!(
            out,
            "  {:<28} {:<40} {:<12} {:<10} {:>6} {:>9} {:>6}",
            p.symbol, p.section, hook, p.backend, p.insns, p.max_path, p.stack
        );
    }
    let _ = writeln!(out, "\nmaps ({}):", m.maps.len());
    for map in &m.maps {
        let _ = writeln!(
            out,
            "  {:<16} {:<12} key {:>3} value {:>5} entries {:>8}  {}",
            map.name, map.kind, map.key_size, map.value_size, map.max_entries, map.purpose
        );
    }
    if !m.sets.is_empty() {
        let _ = writeln!(out, "\nsets:");
        for set in &m.sets {
            match &set.file {
                Some(file) => {
                    let _ = writeln!(
                        out,
                        "  {:<16} list `{}` from {} (read at load and whenever it changes; room for {} keys)",
                        set.map, file.list, file.path, file.capacity
                    );
                }
                None => {
                    let _ = writeln!(out, "  {:<16} {} keys", set.map, set.keys.len());
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nkernel members read (CO-RE): {}",
        if m.kernel_fields.is_empty() {
            "none".to_string()
        } else {
            m.kernel_fields.join(", ")
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::sample_metadata;

    #[test]
    fn inspect_lists_rules_hooks_backends_programs() {
        let object = PolicyObject {
            path: "p.o".into(),
            bytes: Vec::new(),
            metadata: sample_metadata(),
            elf_programs: Vec::new(),
            sections: Vec::new(),
            warnings: None,
        };
        let text = render(&object);
        assert!(text.contains("#0   rule  opened"), "{text}");
        assert!(
            text.contains("\"pid {proc.pid} opened {file.path}\""),
            "{text}"
        );
        assert!(
            text.contains("tp_btf     deny enforced by SIGKILL"),
            "{text}"
        );
        assert!(text.contains("file_open_tp_btf"), "{text}");
        assert!(text.contains("kernel members read (CO-RE): none"), "{text}");
    }
}
