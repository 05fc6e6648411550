//! Decoding event records from the ring buffer, from the object's metadata
//! alone: the 48-byte header (`abi::EventHeader`), the rule it names, the
//! rule's captured fields at the slots its hook's layout gives, and the
//! rendered message template.
//!
//! Pure: bytes in, [`Event`] out. Must not depend on aya or on output formats.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_abi::{
    self as abi, EventHeader, FieldEncoding, HeaderField, MessagePart, Metadata, Verdict,
};

/// Why a record could not be decoded (a record this runtime cannot read is
/// reported, never dropped silently).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("event record of {0} bytes is shorter than its 48-byte header")]
    Short(usize),
    #[error("event names rule id {0}, which the policy does not have")]
    UnknownRule(u32),
    #[error("event has unknown verdict code {0}")]
    UnknownVerdict(u8),
    #[error("event of rule `{rule}` has {len} bytes; its field `{field}` needs {need}")]
    FieldBeyondRecord {
        rule: String,
        field: String,
        len: usize,
        need: usize,
    },
}

/// A decoded field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(u64),
    Bool(bool),
    Str(String),
    Ip(IpAddr),
    /// A path the kernel resolved, longer than its record holds: its first
    /// bytes and its length.
    LongPath {
        head: String,
        len: u64,
    },
    /// A path the kernel could not resolve.
    Unresolved,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(v) => f.write_str(v),
            Value::Ip(v) => write!(f, "{v}"),
            Value::LongPath { head, len } => write!(f, "{head}... ({len} bytes)"),
            Value::Unresolved => f.write_str("<unresolved>"),
        }
    }
}

/// One decoded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `bpf_ktime_get_boot_ns()` when the program ran.
    pub time_ns: u64,
    pub rule_id: u32,
    /// Rule or trace name.
    pub rule: String,
    /// Hook name.
    pub hook: String,
    /// The rule's action as written (`audit`, `deny`, `kill`, `trace`).
    pub action: String,
    pub verdict: Verdict,
    /// Backend of the program that wrote the record (`tracepoint`, ...).
    pub backend: String,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    /// The rule's captured fields, in the rule's order.
    pub fields: Vec<(String, Value)>,
    /// The rendered message template (empty when the rule has none).
    pub message: String,
}

/// Decodes one record of `metadata`'s policy.
pub fn decode(metadata: &Metadata, bytes: &[u8]) -> Result<Event, DecodeError> {
    let mut event = Event::empty();
    decode_into(metadata, bytes, &mut event)?;
    Ok(event)
}

impl Event {
    /// An event with nothing in it, for [`decode_into`] to fill.
    pub fn empty() -> Event {
        Event {
            time_ns: 0,
            rule_id: 0,
            rule: String::new(),
            hook: String::new(),
            action: String::new(),
            verdict: Verdict::Trace,
            backend: String::new(),
            pid: 0,
            tid: 0,
            uid: 0,
            gid: 0,
            comm: String::new(),
            fields: Vec::new(),
            message: String::new(),
        }
    }
}

/// Replaces the string `dst` holds with `src`, reusing its allocation.
fn set(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// Decodes one record of `metadata`'s policy into `event`, reusing the
/// strings it holds: after the first few records of a policy, decoding
/// allocates nothing. On an error `event` is left partly written.
pub fn decode_into(
    metadata: &Metadata,
    bytes: &[u8],
    event: &mut Event,
) -> Result<(), DecodeError> {
    let header = EventHeader::parse(bytes).ok_or(DecodeError::Short(bytes.len()))?;
    let rule = metadata
        .rules
        .get(header.rule_id as usize)
        .ok_or(DecodeError::UnknownRule(header.rule_id))?;
    let verdict =
        Verdict::from_code(header.verdict).ok_or(DecodeError::UnknownVerdict(header.verdict))?;
    match metadata.programs.get(usize::from(header.program)) {
        Some(program) => set(&mut event.backend, program.backend.name()),
        None => event.backend.clear(),
    }
    let slots = metadata
        .hooks
        .iter()
        .find(|h| h.name == rule.hook)
        .map(|h| h.fields.as_slice())
        .unwrap_or(&[]);
    abi::c_string_into(&mut event.comm, &header.comm);
    event.fields.truncate(rule.fields.len());
    for (index, name) in rule.fields.iter().enumerate() {
        if index == event.fields.len() {
            event.fields.push((String::new(), Value::Int(0)));
        }
        let (field_name, value) = &mut event.fields[index];
        set(field_name, name);
        // Header fields come from the header: a slot of one (loaded for a
        // test) is not written at every match.
        let slot = slots
            .iter()
            .find(|s| &s.name == name)
            .filter(|_| HeaderField::from_name(name).is_none());
        match slot {
            Some(slot) => {
                let start = slot.offset as usize;
                let need = start + slot.encoding.size() as usize;
                let raw = bytes
                    .get(start..need)
                    .ok_or_else(|| DecodeError::FieldBeyondRecord {
                        rule: rule.name.clone(),
                        field: name.clone(),
                        len: bytes.len(),
                        need,
                    })?;
                decode_value_into(slot.encoding, raw, value);
            }
            None => header_value(&header, &event.comm, name, value),
        }
    }
    event.message.clear();
    render_message_into(&mut event.message, &rule.message, &event.fields);
    event.time_ns = header.time_ns;
    event.rule_id = header.rule_id;
    set(&mut event.rule, &rule.name);
    set(&mut event.hook, &rule.hook);
    set(&mut event.action, rule.action.name());
    event.verdict = verdict;
    event.pid = header.pid;
    event.tid = header.tid;
    event.uid = header.uid;
    event.gid = header.gid;
    Ok(())
}

/// Sets `value` to `text`, reusing its string when it holds one.
fn set_str(value: &mut Value, text: &str) {
    match value {
        Value::Str(held) => set(held, text),
        other => *other = Value::Str(text.to_string()),
    }
}

/// A field carried by the header (pid, tid, uid, gid, comm).
fn header_value(header: &EventHeader, comm: &str, name: &str, value: &mut Value) {
    *value = match HeaderField::from_name(name) {
        Some(HeaderField::Pid) => Value::Int(u64::from(header.pid)),
        Some(HeaderField::Tid) => Value::Int(u64::from(header.tid)),
        Some(HeaderField::Uid) => Value::Int(u64::from(header.uid)),
        Some(HeaderField::Gid) => Value::Int(u64::from(header.gid)),
        Some(HeaderField::Comm) => return set_str(value, comm),
        // Metadata validation guarantees every other captured field has a slot.
        None => return set_str(value, ""),
    };
}

fn u64_at(raw: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(bytes) = raw.get(at..at + 8) {
        word.copy_from_slice(bytes);
    }
    u64::from_le_bytes(word)
}

/// Decodes one field's bytes (exactly `encoding.size()` of them).
pub fn decode_value(encoding: FieldEncoding, raw: &[u8]) -> Value {
    let mut value = Value::Int(0);
    decode_value_into(encoding, raw, &mut value);
    value
}

/// [`decode_value`] into `value`, reusing the string it holds.
fn decode_value_into(encoding: FieldEncoding, raw: &[u8], value: &mut Value) {
    let c_string_value = |value: &mut Value, bytes: &[u8]| match value {
        Value::Str(held) => abi::c_string_into(held, bytes),
        other => *other = Value::Str(abi::c_string(bytes)),
    };
    match encoding {
        FieldEncoding::Int => *value = Value::Int(u64_at(raw, 0)),
        FieldEncoding::Bool => *value = Value::Bool(u64_at(raw, 0) != 0),
        FieldEncoding::Str { .. } => c_string_value(value, raw),
        FieldEncoding::ResolvedPath { len } => {
            let head = raw.get(..len as usize).unwrap_or(raw);
            match u64_at(raw, len as usize) {
                abi::UNRESOLVED_PATH => *value = Value::Unresolved,
                full if full >= u64::from(len) => {
                    *value = Value::LongPath {
                        head: abi::c_string(head),
                        len: full,
                    }
                }
                _ => c_string_value(value, head),
            }
        }
        FieldEncoding::Ip => {
            let family = u64_at(raw, 0) as u32;
            let mut addr = [0u8; 16];
            if let Some(bytes) = raw.get(8..24) {
                addr.copy_from_slice(bytes);
            }
            *value = if family == 10 {
                Value::Ip(IpAddr::V6(Ipv6Addr::from(addr)))
            } else {
                Value::Ip(IpAddr::V4(Ipv4Addr::new(
                    addr[0], addr[1], addr[2], addr[3],
                )))
            };
        }
    }
}

/// Renders a message template with the event's field values.
pub fn render_message(parts: &[MessagePart], fields: &[(String, Value)]) -> String {
    let mut out = String::new();
    render_message_into(&mut out, parts, fields);
    out
}

/// [`render_message`], appended to `out`.
fn render_message_into(out: &mut String, parts: &[MessagePart], fields: &[(String, Value)]) {
    use std::fmt::Write as _;
    for part in parts {
        match part {
            MessagePart::Text(text) => out.push_str(text),
            MessagePart::Field(name) => match fields.iter().find(|(n, _)| n == name) {
                Some((_, Value::Str(text))) => out.push_str(text),
                Some((_, Value::Int(v))) => push_u64(out, *v),
                Some((_, Value::Ip(IpAddr::V4(ip)))) => {
                    for (i, octet) in ip.octets().into_iter().enumerate() {
                        if i > 0 {
                            out.push('.');
                        }
                        push_u64(out, u64::from(octet));
                    }
                }
                Some((_, value)) => {
                    let _ = write!(out, "{value}");
                }
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
}

/// `n` in decimal (as `Display` writes it, without the formatting
/// machinery), written at the end of `digits`.
pub(crate) fn decimal(digits: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, n: u64) {
    // Only ASCII digits are written.
    out.push_str(std::str::from_utf8(decimal(&mut [0; 20], n)).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::sample_metadata;
    use polc_abi::{FieldSlot, HookMeta, RuleMeta};

    fn header(rule_id: u32, verdict: Verdict, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        bytes[0..8].copy_from_slice(&5_000_000_000u64.to_le_bytes());
        bytes[8..12].copy_from_slice(&rule_id.to_le_bytes());
        bytes[12] = verdict.code();
        bytes[14..16].copy_from_slice(&0u16.to_le_bytes());
        bytes[16..20].copy_from_slice(&4243u32.to_le_bytes());
        bytes[20..24].copy_from_slice(&4242u32.to_le_bytes());
        bytes[24..28].copy_from_slice(&1000u32.to_le_bytes());
        bytes[28..32].copy_from_slice(&100u32.to_le_bytes());
        bytes[32..35].copy_from_slice(b"cat");
        bytes
    }

    #[test]
    fn decodes_header_fields_and_renders_the_message() {
        let metadata = sample_metadata();
        let mut bytes = header(0, Verdict::Audit, metadata.hooks[0].record_len as usize);
        bytes[48..56].copy_from_slice(&4242u64.to_le_bytes());
        bytes[64..75].copy_from_slice(b"/etc/shadow");
        let event = decode(&metadata, &bytes).expect("decodes");
        assert_eq!(event.rule, "opened");
        assert_eq!(event.hook, "file.open");
        assert_eq!(event.verdict, Verdict::Audit);
        assert_eq!(event.backend, "tp_btf");
        assert_eq!(
            (event.pid, event.tid, event.uid, event.gid),
            (4242, 4243, 1000, 100)
        );
        assert_eq!(event.comm, "cat");
        assert_eq!(
            event.fields,
            vec![
                ("proc.pid".to_string(), Value::Int(4242)),
                ("file.path".to_string(), Value::Str("/etc/shadow".into())),
            ]
        );
        assert_eq!(event.message, "pid 4242 opened /etc/shadow");
    }

    #[test]
    fn header_fields_without_a_slot_come_from_the_header() {
        let mut metadata = sample_metadata();
        metadata.hooks[0].fields.retain(|s| s.name != "proc.pid");
        let bytes = header(0, Verdict::Audit, metadata.hooks[0].record_len as usize);
        let event = decode(&metadata, &bytes).expect("decodes");
        assert_eq!(event.fields[0], ("proc.pid".to_string(), Value::Int(4242)));
        assert!(event.message.starts_with("pid 4242 opened "));
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        let metadata = sample_metadata();
        assert_eq!(decode(&metadata, &[0u8; 10]), Err(DecodeError::Short(10)));
        let bytes = header(7, Verdict::Audit, 400);
        assert_eq!(decode(&metadata, &bytes), Err(DecodeError::UnknownRule(7)));
        let mut bytes = header(0, Verdict::Audit, 400);
        bytes[12] = 99;
        assert_eq!(
            decode(&metadata, &bytes),
            Err(DecodeError::UnknownVerdict(99))
        );
        let bytes = header(0, Verdict::Audit, 80);
        assert!(matches!(
            decode(&metadata, &bytes),
            Err(DecodeError::FieldBeyondRecord { .. })
        ));
    }

    #[test]
    fn ips_ints_and_bools_decode() {
        let mut raw = vec![0u8; 24];
        raw[0] = 2;
        raw[8..12].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            decode_value(FieldEncoding::Ip, &raw),
            Value::Ip("127.0.0.1".parse().expect("ip"))
        );
        raw[0] = 10;
        raw[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert_eq!(decode_value(FieldEncoding::Ip, &raw).to_string(), "::1");
        assert_eq!(
            decode_value(FieldEncoding::Int, &25u64.to_le_bytes()),
            Value::Int(25)
        );
        assert_eq!(
            decode_value(FieldEncoding::Bool, &2u64.to_le_bytes()),
            Value::Bool(true)
        );
    }

    #[test]
    fn a_trace_with_emitted_fields_decodes_in_emit_order() {
        let mut metadata = sample_metadata();
        metadata.rules.push(RuleMeta {
            id: 1,
            name: "execs".into(),
            kind: polc_abi::RuleKind::Trace,
            hook: "file.open".into(),
            action: polc_abi::Action::Trace,
            message: vec![],
            fields: vec!["file.flags".into(), "proc.comm".into()],
            line: 9,
        });
        metadata.hooks = vec![HookMeta {
            name: "file.open".into(),
            record_len: 56,
            fields: vec![FieldSlot {
                name: "file.flags".into(),
                offset: 48,
                encoding: FieldEncoding::Int,
            }],
            backends: vec![],
        }];
        let mut bytes = header(1, Verdict::Trace, 56);
        bytes[48..56].copy_from_slice(&0o101u64.to_le_bytes());
        let event = decode(&metadata, &bytes).expect("decodes");
        assert_eq!(event.verdict, Verdict::Trace);
        assert_eq!(
            event.fields,
            vec![
                ("file.flags".to_string(), Value::Int(0o101)),
                ("proc.comm".to_string(), Value::Str("cat".into())),
            ]
        );
        assert_eq!(event.message, "");
    }

    #[test]
    fn messages_write_ints_and_addresses_as_display_does() {
        let parts = vec![
            MessagePart::Text("to ".into()),
            MessagePart::Field("a".into()),
            MessagePart::Text(" port ".into()),
            MessagePart::Field("n".into()),
        ];
        for (ip, n) in [
            ("127.0.0.1", 47999u64),
            ("0.0.0.0", 0),
            ("255.255.255.255", u64::MAX),
            ("10.200.3.40", 10),
            ("::ffff:1.2.3.4", 7),
            ("fe80::1", 1_000_000),
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            let fields = vec![
                ("a".to_string(), Value::Ip(ip)),
                ("n".to_string(), Value::Int(n)),
            ];
            assert_eq!(render_message(&parts, &fields), format!("to {ip} port {n}"));
        }
    }
}
