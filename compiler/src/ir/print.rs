//! The `--emit ir` text of a lowered module: one block per program, one
//! paragraph per step, conditions printed with their fields and literals.

use std::fmt::Write as _;

use crate::check::hooks::FieldId;
use crate::check::policy::Action;
use crate::ir::{Cond, LeafKind, Module, Program, Step, Target};

/// Renders every program, set and automaton of `module`.
pub fn print(module: &Module) -> String {
    let mut out = String::new();
    for (i, set) in module.sets.iter().enumerate() {
        let _ = writeln!(
            out,
            "set#{i}: {:?}, {} ({} keys)",
            set.kind,
            set.purpose,
            set.keys.len()
        );
    }
    for (i, def) in module.automata.iter().enumerate() {
        let literals: Vec<String> = def.automaton.literals.iter().map(|l| quoted(l)).collect();
        let _ = writeln!(
            out,
            "automaton#{i}: {}, {} classes, table at byte {}: {}",
            def.purpose,
            def.automaton.n_classes,
            def.offset,
            literals.join(", ")
        );
    }
    for program in &module.programs {
        out.push_str(&print_program(program));
    }
    out
}

/// Renders one program.
pub fn print_program(program: &Program) -> String {
    let mut out = String::new();
    match program.target {
        Target::Attach { backend, attach } => {
            let _ = writeln!(
                out,
                "program {} ({}: {}, {})",
                program.hook, backend.kind, attach.section, attach.symbol
            );
        }
        Target::TestRun => {
            let _ = writeln!(out, "program {} (test run)", program.hook);
        }
    }
    for step in program.traces.iter().chain(&program.rules) {
        print_step(&mut out, step);
    }
    if program.can_fall_through {
        let _ = writeln!(out, "  no match: allow");
    }
    out
}

fn print_step(out: &mut String, step: &Step) {
    let kind = if step.action == Action::Trace {
        "trace"
    } else {
        "rule"
    };
    let _ = writeln!(
        out,
        "  {kind} {} (id {}, line {}): {}",
        step.name,
        step.rule_id,
        step.line,
        step.action.keyword()
    );
    let _ = writeln!(out, "    when {}", cond_text(&step.cond));
    if !step.captures.is_empty() {
        let _ = writeln!(out, "    captures {}", names(&step.captures));
    }
}

fn names(fields: &[FieldId]) -> String {
    fields
        .iter()
        .map(|f| f.spec().name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A condition as text (fully parenthesised where nested).
pub fn cond_text(cond: &Cond) -> String {
    match cond {
        Cond::True => "true".into(),
        Cond::False => "false".into(),
        Cond::And(items) => items.iter().map(nested).collect::<Vec<_>>().join(" and "),
        Cond::Or(items) => items.iter().map(nested).collect::<Vec<_>>().join(" or "),
        Cond::Not(inner) => format!("not {}", nested(inner)),
        Cond::Leaf(leaf) => {
            let field = leaf.field.spec().name;
            match &leaf.kind {
                LeafKind::Int { op, value } => format!("{field} {} {value}", op.symbol()),
                LeafKind::Bits { mask, all: true } => format!("{field} has {mask:#x}"),
                LeafKind::Bits { mask, all: false } => format!("{field} has any {mask:#x}"),
                LeafKind::FieldCmp { op, other } => {
                    format!("{field} {} {}", op.symbol(), other.spec().name)
                }
                LeafKind::StrEq(s) => format!("{field} == {}", quoted(s)),
                LeafKind::StrPrefix(s) => format!("{field} startswith {}", quoted(s)),
                LeafKind::StrSuffix(s) => format!("{field} endswith {}", quoted(s)),
                LeafKind::Ip(net) => format!("{field} in {}/{}", net.addr, net.prefix),
                LeafKind::Bool => field.to_string(),
                LeafKind::InSet(set) => format!("{field} in set#{}", set.0),
                LeafKind::PrefixInSet(set) => format!("{field} startswith set#{}", set.0),
                LeafKind::IpInSet(set) => format!("{field} in set#{}", set.0),
                LeafKind::IdentityIn(set) => format!("{field} is file#{}", set.0),
                LeafKind::Scan(automaton) => format!("{field} scan automaton#{}", automaton.0),
            }
        }
    }
}

fn nested(cond: &Cond) -> String {
    match cond {
        Cond::And(_) | Cond::Or(_) => format!("({})", cond_text(cond)),
        _ => cond_text(cond),
    }
}

fn quoted(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}
