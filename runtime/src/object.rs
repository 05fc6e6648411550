//! Reading a policy: a polc object (ELF) or a `.pol` source compiled in
//! process, and the metadata that describes it.
//!
//! Everything here is pure: ELF and JSON parsing with the `object` crate and
//! `serde_json`, never a syscall beyond reading the file. That is what lets
//! `polrt inspect` run without privileges, and every check below run in unit
//! tests. An object is read here exactly as far as loading it will read it:
//! its code must match the metadata's hash, and aya's own object parser and
//! relocations (`aya-obj`, which makes no syscalls) must accept it, with
//! maps that match the metadata, before anything reaches the kernel. Must
//! not depend on `aya` (the syscall half) or on the kernel.

use std::path::Path;

use object::{Architecture, Object, ObjectSection, ObjectSymbol};
use polc_abi::{self as abi, HeaderField, Metadata, ProgramMeta, ProgramRole, ABI_VERSION};

/// Why a policy cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is not valid UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { path: String, offset: usize },
    #[error("`{path}` is not an ELF object, or it is truncated or corrupt: {reason}")]
    NotElf { path: String, reason: String },
    #[error(
        "`{path}` is an ELF object for {arch}, not a 64-bit little-endian BPF object (EM_BPF)"
    )]
    NotBpf { path: String, arch: String },
    #[error("`{path}` has no `{section}` section: it was not written by polc (or was stripped)")]
    MissingMetadata { path: String, section: &'static str },
    #[error("`{path}`: the `{section}` section is not valid polc metadata: {reason}")]
    BadMetadata {
        path: String,
        section: &'static str,
        reason: String,
    },
    #[error(
        "`{path}` was written by polc {compiler} with object format version {found}; this polrt reads version {expected}: rebuild the object with a matching polc"
    )]
    AbiVersion {
        path: String,
        compiler: String,
        found: u32,
        expected: u32,
    },
    #[error(
        "`{path}` was built for {arch} (its programs test that architecture's system call numbers); this machine is {}: rebuild it here",
        std::env::consts::ARCH
    )]
    Arch { path: String, arch: String },
    #[error("`{path}`: the metadata is inconsistent with the object: {reason}")]
    Inconsistent { path: String, reason: String },
    #[error("`{path}`: the programs' code does not match the metadata's code hash: the object was changed or corrupted after polc wrote it")]
    CodeMismatch { path: String },
    #[error("`{path}`: its .BTF section is malformed: {reason}")]
    BadBtf { path: String, reason: String },
    #[error("`{path}`: aya cannot read the object: {reason}")]
    Aya { path: String, reason: String },
    #[error("`{path}` has errors:\n{rendered}")]
    Policy { path: String, rendered: String },
    #[error("`{path}`: {message}")]
    Build { path: String, message: String },
}

/// A program section of the object, as found in the ELF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfProgram {
    /// Section name (`tracepoint/syscalls/sys_enter_execve`, ...).
    pub section: String,
    /// Bytes of code in the section.
    pub code_bytes: u64,
}

/// A policy ready to load: the object's bytes and its decoded metadata.
#[derive(Clone, Debug)]
pub struct PolicyObject {
    /// Where it came from (for messages).
    pub path: String,
    /// The ELF object.
    pub bytes: Vec<u8>,
    /// The decoded `.polc.meta` section.
    pub metadata: Metadata,
    /// Executable sections of the ELF.
    pub elf_programs: Vec<ElfProgram>,
    /// Names of every section of the ELF.
    pub sections: Vec<String>,
    /// Rendered compiler warnings when the policy was compiled from source.
    pub warnings: Option<String>,
}

/// Reads `path`: a `.pol` source is checked and compiled in process (with a
/// ring buffer of `ringbuf_bytes`), anything else is read as an object.
pub fn load_path(path: &Path, ringbuf_bytes: u32) -> Result<PolicyObject, ObjectError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ObjectError::Read {
        path: name.clone(),
        source,
    })?;
    if path.extension().is_some_and(|ext| ext == "pol") {
        let source = String::from_utf8(bytes).map_err(|e| ObjectError::NotUtf8 {
            path: name.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        compile_source(&name, &source, ringbuf_bytes)
    } else {
        parse_object(&name, bytes)
    }
}

/// Checks and compiles `source` into an object, as `polc build` would.
pub fn compile_source(
    name: &str,
    source: &str,
    ringbuf_bytes: u32,
) -> Result<PolicyObject, ObjectError> {
    let compiled =
        polc::compile::compile_object_source(name, source, ringbuf_bytes).map_err(|e| {
            ObjectError::Build {
                path: name.to_string(),
                message: e.to_string(),
            }
        })?;
    let rendered = polc::diag::render_text(&compiled.diagnostics, name, source, false);
    let build = match compiled.build {
        Some(build) if !compiled.has_errors() => build,
        _ => {
            return Err(ObjectError::Policy {
                path: name.to_string(),
                rendered,
            })
        }
    };
    let bytes = polc::object::write_object(&build.image).map_err(|e| ObjectError::Build {
        path: name.to_string(),
        message: format!("internal compiler error: {e}"),
    })?;
    let mut object = parse_object(name, bytes)?;
    object.warnings = (!rendered.is_empty()).then_some(rendered);
    Ok(object)
}

/// Parses an object: ELF64 little-endian `EM_BPF` with a `.polc.meta`
/// section of this ABI version, consistent with the ELF's program sections.
pub fn parse_object(path: &str, bytes: Vec<u8>) -> Result<PolicyObject, ObjectError> {
    let file = object::File::parse(&*bytes).map_err(|e| ObjectError::NotElf {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(ObjectError::NotElf {
            path: path.to_string(),
            reason: format!("it is a {:?} file", file.format()),
        });
    }
    if file.architecture() != Architecture::Bpf || !file.is_little_endian() || !file.is_64() {
        return Err(ObjectError::NotBpf {
            path: path.to_string(),
            arch: format!(
                "{:?} ({}-bit, {} endian)",
                file.architecture(),
                if file.is_64() { 64 } else { 32 },
                if file.is_little_endian() {
                    "little"
                } else {
                    "big"
                }
            ),
        });
    }
    let section = file.section_by_name(abi::METADATA_SECTION).ok_or_else(|| {
        ObjectError::MissingMetadata {
            path: path.to_string(),
            section: abi::METADATA_SECTION,
        }
    })?;
    let bad_metadata = |reason: String| ObjectError::BadMetadata {
        path: path.to_string(),
        section: abi::METADATA_SECTION,
        reason,
    };
    let data = section.data().map_err(|e| bad_metadata(e.to_string()))?;
    let metadata = parse_metadata(path, data)?;

    let mut sections = Vec::new();
    let mut elf_programs = Vec::new();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        sections.push(name.to_string());
        if section.kind() == object::SectionKind::Text {
            elf_programs.push(ElfProgram {
                section: name.to_string(),
                code_bytes: section.size(),
            });
        }
    }
    let symbols: Vec<String> = file
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text)
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect();
    let inconsistent = |reason: String| ObjectError::Inconsistent {
        path: path.to_string(),
        reason,
    };
    for program in &metadata.programs {
        if !elf_programs.iter().any(|p| p.section == program.section) {
            return Err(inconsistent(format!(
                "program `{}` should be in section `{}`, which the object lacks",
                program.symbol, program.section
            )));
        }
        if !symbols.contains(&program.symbol) {
            return Err(inconsistent(format!(
                "program `{}` has no function symbol",
                program.symbol
            )));
        }
    }
    // Each program's own bytes: its function symbol's range of its section
    // (programs that attach to the same point share a section).
    let mut code = Vec::with_capacity(metadata.programs.len());
    for program in &metadata.programs {
        let unreadable = || {
            inconsistent(format!(
                "the code of program `{}` (section `{}`) cannot be read",
                program.symbol, program.section
            ))
        };
        let symbol = file
            .symbols()
            .find(|s| s.kind() == object::SymbolKind::Text && s.name() == Ok(&program.symbol))
            .ok_or_else(unreadable)?;
        let section = symbol
            .section_index()
            .and_then(|index| file.section_by_index(index).ok())
            .filter(|section| section.name() == Ok(&program.section))
            .ok_or_else(unreadable)?;
        let data = section.data().map_err(|_| unreadable())?;
        let start = usize::try_from(symbol.address()).map_err(|_| unreadable())?;
        let end = usize::try_from(symbol.size())
            .ok()
            .and_then(|size| start.checked_add(size))
            .ok_or_else(unreadable)?;
        code.push((
            program.section.as_str(),
            data.get(start..end).ok_or_else(unreadable)?,
        ));
    }
    if abi::code_hash(code) != metadata.code_hash {
        return Err(ObjectError::CodeMismatch {
            path: path.to_string(),
        });
    }
    if let Some(btf) = file.section_by_name(".BTF") {
        let data = btf.data().map_err(|e| inconsistent(format!(".BTF: {e}")))?;
        crate::btf::KernelBtf::parse(data).map_err(|e| ObjectError::BadBtf {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    }
    check_with_aya(&bytes, &metadata).map_err(|reason| ObjectError::Aya {
        path: path.to_string(),
        reason,
    })?;
    Ok(PolicyObject {
        path: path.to_string(),
        bytes,
        metadata,
        elf_programs,
        sections,
        warnings: None,
    })
}

/// Reads the object as aya will when loading it (`aya-obj`: parse, BTF
/// fix-up, CO-RE relocation, map and call relocation; no syscalls), and
/// checks its maps and programs against the metadata. The CO-RE target is
/// the object's own BTF here (the kernel's is not read without
/// privileges); loading relocates again against the kernel's, under the same
/// guard ([`crate::loader::open`]). A panic inside aya-obj is an error
/// (see [`crate::guard`]).
fn check_with_aya(bytes: &[u8], metadata: &Metadata) -> Result<(), String> {
    crate::panics::catch(|| aya_reads(bytes, metadata))
        .unwrap_or_else(|panic| Err(format!("aya-obj panicked: {panic}")))
}

fn aya_reads(bytes: &[u8], metadata: &Metadata) -> Result<(), String> {
    use std::collections::HashSet;
    let mut obj = aya_obj::Object::parse(bytes).map_err(|e| e.to_string())?;
    for map in &metadata.maps {
        let Some(def) = obj.maps.get(&map.name) else {
            return Err(format!(
                "the metadata's map `{}` is not in `.maps`",
                map.name
            ));
        };
        let elf = (
            def.map_type(),
            def.key_size(),
            def.value_size(),
            def.max_entries(),
        );
        let meta = (
            map.kind.map_type(),
            map.key_size,
            map.value_size,
            map.max_entries,
        );
        if elf != meta {
            return Err(format!(
                "map `{}` is (type, key, value, entries) {elf:?} in `.maps`, {meta:?} in the metadata",
                map.name
            ));
        }
    }
    if let Some(name) = obj
        .maps
        .keys()
        .find(|name| !metadata.maps.iter().any(|m| &m.name == *name))
    {
        return Err(format!("map `{name}` of `.maps` is not in the metadata"));
    }
    for program in &metadata.programs {
        if !obj.programs.contains_key(&program.symbol) {
            return Err(format!("aya finds no program `{}`", program.symbol));
        }
    }
    let features = aya_obj::btf::BtfFeatures::new(true, true, true, true, true, true, true, true);
    obj.fixup_and_sanitize_btf(&features)
        .map_err(|e| format!("fixing up its BTF: {e}"))?;
    if let Some(own) = obj.btf.clone() {
        obj.relocate_btf(&own)
            .map_err(|e| format!("CO-RE relocation: {e}"))?;
    }
    let text_sections: HashSet<usize> = obj.functions.keys().map(|(section, _)| *section).collect();
    let maps = obj.maps.clone();
    obj.relocate_maps(
        maps.iter().map(|(name, map)| (name.as_str(), 0, map)),
        &text_sections,
    )
    .map_err(|e| format!("map relocation: {e}"))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| format!("call relocation: {e}"))?;
    Ok(())
}

/// Decodes and validates the metadata JSON: the ABI version first (so that
/// a newer format is reported as such, not as a parse error), then the
/// cross-references the runtime relies on when decoding events.
pub fn parse_metadata(path: &str, data: &[u8]) -> Result<Metadata, ObjectError> {
    let bad = |reason: String| ObjectError::BadMetadata {
        path: path.to_string(),
        section: abi::METADATA_SECTION,
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| bad(format!("not JSON: {e}")))?;
    let found = value
        .get("abi_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("no `abi_version`".to_string()))?;
    if found != u64::from(ABI_VERSION) {
        let compiler = value
            .get("compiler_version")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("(unknown version)")
            .to_string();
        return Err(ObjectError::AbiVersion {
            path: path.to_string(),
            compiler,
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: ABI_VERSION,
        });
    }
    let metadata: Metadata = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if metadata.arch != std::env::consts::ARCH {
        return Err(ObjectError::Arch {
            path: path.to_string(),
            arch: metadata.arch,
        });
    }
    for (index, rule) in metadata.rules.iter().enumerate() {
        if rule.id as usize != index {
            return Err(bad(format!(
                "rule `{}` has id {} at index {index}",
                rule.name, rule.id
            )));
        }
        let Some(hook) = metadata.hooks.iter().find(|h| h.name == rule.hook) else {
            return Err(bad(format!(
                "rule `{}` is on hook `{}`, which has no record layout",
                rule.name, rule.hook
            )));
        };
        for field in &rule.fields {
            if !hook.fields.iter().any(|slot| &slot.name == field)
                && HeaderField::from_name(field).is_none()
            {
                return Err(bad(format!(
                    "rule `{}` captures `{field}`, which has no slot in `{}` records",
                    rule.name, rule.hook
                )));
            }
        }
    }
    for hook in &metadata.hooks {
        for (i, backend) in hook.backends.iter().enumerate() {
            if hook.backends[..i].iter().any(|b| b.kind == backend.kind) {
                return Err(bad(format!(
                    "hook `{}` lists backend {} twice",
                    hook.name, backend.kind
                )));
            }
            if !metadata
                .programs
                .iter()
                .any(|p| p.hook == hook.name && p.backend == backend.kind)
            {
                return Err(bad(format!(
                    "hook `{}` lists backend {}, which has no program",
                    hook.name, backend.kind
                )));
            }
        }
        for slot in &hook.fields {
            let end = u64::from(slot.offset) + u64::from(slot.encoding.size());
            if u64::from(slot.offset) < abi::EVENT_HEADER_LEN as u64
                || end > u64::from(hook.record_len)
            {
                return Err(bad(format!(
                    "field `{}` of `{}` records lies outside the record",
                    slot.name, hook.name
                )));
            }
        }
    }
    for program in &metadata.programs {
        if program.hook.is_empty() {
            continue;
        }
        let Some(hook) = metadata.hooks.iter().find(|h| h.name == program.hook) else {
            return Err(bad(format!(
                "program `{}` is for hook `{}`, which has no record layout",
                program.symbol, program.hook
            )));
        };
        if !hook.backends.iter().any(|b| b.kind == program.backend) {
            return Err(bad(format!(
                "program `{}` is a {} program of hook `{}`, which does not list that backend",
                program.symbol, program.backend, program.hook
            )));
        }
    }
    check_roles(&metadata).map_err(bad)?;
    Ok(metadata)
}

/// A whole LSM program has both its reporting and its refusing program, or
/// neither, each of its hook and backend and named after it: polrt runs the
/// pair in its place (several policies), and a pair without its refusing
/// half would refuse nothing.
fn check_roles(metadata: &Metadata) -> Result<(), String> {
    let role_of = |whole: &ProgramMeta, role: ProgramRole| {
        let symbol = role.symbol(&whole.symbol);
        let section = role.section(&whole.section);
        metadata.programs.iter().find(|p| {
            p.role == role
                && p.symbol == symbol
                && Some(&p.section) == section.as_ref()
                && p.hook == whole.hook
                && p.backend == whole.backend
        })
    };
    let wholes = || {
        metadata
            .programs
            .iter()
            .filter(|p| p.role == ProgramRole::Whole)
    };
    for program in &metadata.programs {
        let paired = match program.role {
            ProgramRole::Whole => {
                let report = role_of(program, ProgramRole::Report).is_some();
                let refuse = role_of(program, ProgramRole::Refuse).is_some();
                report == refuse
            }
            role => wholes().any(|whole| role_of(whole, role) == Some(program)),
        };
        if !paired {
            return Err(format!(
                "program `{}` ({}, {:?}) lacks the whole, reporting or refusing program of its set",
                program.symbol, program.section, program.role
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use polc_abi::{
        Action, BackendKind, BackendMeta, Deny, FieldEncoding, FieldSlot, HookMeta, MessagePart,
        ProgramMeta, RuleKind, RuleMeta, Signals,
    };

    /// Metadata of a policy with one audit rule on `file.open` capturing
    /// `file.path` and `proc.pid`.
    pub(crate) fn sample_metadata() -> Metadata {
        Metadata {
            abi_version: ABI_VERSION,
            compiler_version: "0.1.0".into(),
            arch: std::env::consts::ARCH.into(),
            source_name: "t.pol".into(),
            source_hash: "00".into(),
            rules: vec![RuleMeta {
                id: 0,
                name: "opened".into(),
                kind: RuleKind::Rule,
                hook: "file.open".into(),
                action: Action::Audit,
                message: vec![
                    MessagePart::Text("pid ".into()),
                    MessagePart::Field("proc.pid".into()),
                    MessagePart::Text(" opened ".into()),
                    MessagePart::Field("file.path".into()),
                ],
                fields: vec!["proc.pid".into(), "file.path".into()],
                line: 1,
            }],
            hooks: vec![HookMeta {
                name: "file.open".into(),
                record_len: 48 + 8 + 8 + 256,
                fields: vec![
                    FieldSlot {
                        name: "proc.pid".into(),
                        offset: 48,
                        encoding: FieldEncoding::Int,
                    },
                    FieldSlot {
                        name: "file.path".into(),
                        offset: 64,
                        encoding: FieldEncoding::Str { len: 256 },
                    },
                ],
                backends: vec![BackendMeta {
                    kind: BackendKind::TpBtf,
                    deny: Deny::Kills,
                    deny_means: "deny enforced by SIGKILL when the open returns".into(),
                    signals: Signals::Always,
                }],
            }],
            programs: vec![ProgramMeta {
                symbol: "file_open_tp_btf".into(),
                section: "tp_btf/sys_exit".into(),
                hook: "file.open".into(),
                backend: BackendKind::TpBtf,
                insns: 10,
                max_path: 10,
                stack: 24,
                absent_means: None,
                role: Default::default(),
            }],
            maps: vec![],
            kernel_fields: vec![],
            sets: vec![],
            identities: vec![],
            identity_files: vec![],
            identity_ranks: vec![],
            compiled_lists: vec![],
            accounts: vec![],
            automata: String::new(),
            code_hash: String::new(),
        }
    }

    #[test]
    fn metadata_of_another_abi_version_names_both_versions() {
        let json = br#"{"abi_version": 99, "compiler_version": "9.9.9", "rules": "whatever"}"#;
        let error = parse_metadata("x.o", json).expect_err("version 99 is refused");
        let text = error.to_string();
        assert!(matches!(error, ObjectError::AbiVersion { found: 99, .. }));
        assert!(text.contains("polc 9.9.9"), "{text}");
        assert!(
            text.contains(&format!("reads version {ABI_VERSION}")),
            "{text}"
        );
    }

    #[test]
    fn metadata_must_be_json_with_a_version() {
        assert!(matches!(
            parse_metadata("x.o", b"\x00\x01garbage"),
            Err(ObjectError::BadMetadata { .. })
        ));
        assert!(matches!(
            parse_metadata("x.o", b"{}"),
            Err(ObjectError::BadMetadata { reason, .. }) if reason.contains("abi_version")
        ));
    }

    #[test]
    fn sample_metadata_round_trips_and_validates() {
        let json = serde_json::to_vec(&sample_metadata()).expect("serialises");
        let metadata = parse_metadata("x.o", &json).expect("valid");
        assert_eq!(metadata, sample_metadata());
    }

    #[test]
    fn metadata_with_a_field_outside_its_record_is_refused() {
        let mut metadata = sample_metadata();
        metadata.hooks[0].record_len = 100;
        let json = serde_json::to_vec(&metadata).expect("serialises");
        let error = parse_metadata("x.o", &json).expect_err("slot beyond record");
        assert!(error.to_string().contains("file.path"), "{error}");
    }

    #[test]
    fn metadata_with_a_rule_capturing_an_unknown_slot_is_refused() {
        let mut metadata = sample_metadata();
        metadata.rules[0].fields.push("exec.path".into());
        let json = serde_json::to_vec(&metadata).expect("serialises");
        let error = parse_metadata("x.o", &json).expect_err("no slot");
        assert!(error.to_string().contains("exec.path"), "{error}");
    }

    #[test]
    fn non_elf_and_truncated_input_are_clear_errors() {
        let error = parse_object("x.o", b"hello, world".to_vec()).expect_err("not ELF");
        assert!(matches!(error, ObjectError::NotElf { .. }), "{error}");
        let error = parse_object("x.o", b"\x7fELF\x02\x01\x01".to_vec()).expect_err("truncated");
        assert!(matches!(error, ObjectError::NotElf { .. }), "{error}");
    }

    #[test]
    fn a_host_elf_is_not_a_bpf_object() {
        let exe = std::fs::read("/proc/self/exe").expect("own executable");
        let error = parse_object("self", exe).expect_err("x86 ELF");
        assert!(matches!(error, ObjectError::NotBpf { .. }), "{error}");
        assert!(error.to_string().contains("EM_BPF"), "{error}");
    }

    #[test]
    fn a_source_with_errors_reports_rendered_diagnostics() {
        let source = "rule r {\n    on exec\n    when nope.field == 1\n    deny\n}\n";
        let error = compile_source("bad.pol", source, 4096).expect_err("unknown field");
        let ObjectError::Policy { rendered, .. } = &error else {
            panic!("expected a policy error, got {error}");
        };
        assert!(rendered.contains("nope.field"), "{rendered}");
        assert!(rendered.contains("bad.pol:3"), "{rendered}");
    }

    /// The build of a small policy with a set map and two hooks.
    fn small_build() -> polc::compile::Build {
        let source = "rule sh {\n    on exec\n    when exec.path in [\"/a\", \"/b\", \"/c\", \"/d\", \"/e\", \"/f\", \"/g\", \"/h\", \"/i\"]\n    deny\n}\n\
                      rule smtp {\n    on net.connect\n    when net.dport == 25\n    kill\n}\n";
        let checked = polc::check::check_source("t.pol", source);
        let policy = checked.policy.expect("checks");
        polc::compile::build(&policy, source, 4096).expect("builds")
    }

    #[test]
    fn an_object_whose_code_changed_is_refused() {
        let build = small_build();
        let mut bytes = build.object_bytes().expect("written");
        assert!(parse_object("x.o", bytes.clone()).is_ok());
        let file = object::File::parse(&*bytes).expect("ELF");
        let section = build.metadata.programs[1].section.clone();
        let (offset, _) = file
            .section_by_name(&section)
            .and_then(|s| s.file_range())
            .expect("the program's section");
        // An immediate of the program's second instruction.
        bytes[offset as usize + 12] ^= 0x40;
        let error = parse_object("x.o", bytes).expect_err("changed code");
        assert!(matches!(error, ObjectError::CodeMismatch { .. }), "{error}");
        assert!(error.to_string().contains("code hash"), "{error}");
    }

    #[test]
    fn an_object_whose_maps_differ_from_its_metadata_is_refused() {
        let build = small_build();
        let mut metadata = build.metadata.clone();
        let set = metadata
            .maps
            .iter_mut()
            .find(|m| m.name == "polc_set0")
            .expect("a set map");
        set.key_size += 8;
        let mut image = build.image.clone();
        image.metadata = serde_json::to_vec(&metadata).expect("json");
        let bytes = polc::object::write_object(&image).expect("written");
        let error = parse_object("x.o", bytes).expect_err("maps differ");
        assert!(matches!(error, ObjectError::Aya { .. }), "{error}");
        assert!(error.to_string().contains("polc_set0"), "{error}");
    }

    #[test]
    fn a_program_of_a_backend_its_hook_does_not_list_is_refused() {
        let mut metadata = sample_metadata();
        let mut lsm = metadata.programs[0].clone();
        lsm.symbol = "file_open_lsm".into();
        lsm.backend = BackendKind::Lsm;
        metadata.programs.push(lsm);
        let json = serde_json::to_vec(&metadata).expect("serialises");
        let error = parse_metadata("x.o", &json).expect_err("unlisted backend");
        assert!(error.to_string().contains("does not list"), "{error}");
        let mut metadata = sample_metadata();
        let twice = metadata.hooks[0].backends[0].clone();
        metadata.hooks[0].backends.push(twice);
        let json = serde_json::to_vec(&metadata).expect("serialises");
        let error = parse_metadata("x.o", &json).expect_err("listed twice");
        assert!(error.to_string().contains("twice"), "{error}");
    }

    #[test]
    fn reporting_and_refusing_programs_come_in_pairs_with_their_whole_program() {
        let metadata = small_build().metadata;
        assert!(metadata
            .programs
            .iter()
            .any(|p| p.role == ProgramRole::Report));
        let json = serde_json::to_vec(&metadata).expect("serialises");
        parse_metadata("x.o", &json).expect("a built object's programs pair up");
        for role in [ProgramRole::Report, ProgramRole::Refuse] {
            // Either half missing.
            let mut broken = metadata.clone();
            broken.programs.retain(|p| p.role != role);
            let json = serde_json::to_vec(&broken).expect("serialises");
            let error = parse_metadata("x.o", &json).expect_err("half a pair");
            assert!(error.to_string().contains("lacks"), "{error}");
            // One of another section than its whole program's.
            let mut broken = metadata.clone();
            let program = broken
                .programs
                .iter_mut()
                .find(|p| p.role == role)
                .expect("a program of the role");
            program.section = "tp_btf/sys_exit".into();
            let json = serde_json::to_vec(&broken).expect("serialises");
            let error = parse_metadata("x.o", &json).expect_err("wrong section");
            assert!(error.to_string().contains("lacks"), "{error}");
        }
    }

    #[test]
    fn an_object_for_another_architecture_is_refused() {
        let mut metadata = sample_metadata();
        metadata.arch = "aarch64".into();
        let json = serde_json::to_vec(&metadata).expect("serialises");
        let error = parse_metadata("x.o", &json).expect_err("another arch");
        assert!(matches!(error, ObjectError::Arch { .. }), "{error}");
        assert!(error.to_string().contains("built for aarch64"), "{error}");
    }
}
