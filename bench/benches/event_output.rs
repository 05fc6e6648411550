//! `cargo bench -p polc-bench --bench event_output`: what polrt spends in
//! user space per event, in process — decoding a ring-buffer record of the
//! throughput policy (`bench/pol/throughput.pol`) and writing it as a JSON
//! line or a text line to a buffered sink — without the kernel and the ring
//! buffer. Prints nanoseconds per event (medians); nothing is asserted.

use std::io::{BufWriter, Sink};
use std::time::Instant;

use polc::abi::{header, FieldEncoding};
use polrt::events;
use polrt::output::{Clock, Format, Output};

/// A record of `burst_open`, laid out as the object's metadata says.
fn record(metadata: &polc::abi::Metadata) -> Vec<u8> {
    let hook = metadata
        .hooks
        .iter()
        .find(|h| h.name == "file.open")
        .expect("file.open layout");
    let mut bytes = vec![0u8; hook.record_len as usize];
    let put = |bytes: &mut Vec<u8>, at: i16, value: &[u8]| {
        let at = at as usize;
        bytes[at..at + value.len()].copy_from_slice(value);
    };
    put(&mut bytes, header::TIME_NS, &5_000_000_000u64.to_le_bytes());
    put(&mut bytes, header::RULE_ID, &0u32.to_le_bytes());
    put(
        &mut bytes,
        header::VERDICT,
        &[polc::abi::Verdict::Audit.code()],
    );
    put(&mut bytes, header::TID, &4243u32.to_le_bytes());
    put(&mut bytes, header::PID, &4242u32.to_le_bytes());
    put(&mut bytes, header::UID, &1000u32.to_le_bytes());
    put(&mut bytes, header::GID, &1000u32.to_le_bytes());
    put(&mut bytes, header::COMM, b"polc-bench");
    for slot in &hook.fields {
        let at = slot.offset as usize;
        match slot.encoding {
            FieldEncoding::ResolvedPath { len } => {
                let path = b"/tmp/polc-bench/burst";
                bytes[at..at + path.len()].copy_from_slice(path);
                let end = at + len as usize;
                bytes[end..end + 8].copy_from_slice(&(path.len() as u64).to_le_bytes());
            }
            FieldEncoding::Int => {
                bytes[at..at + 8].copy_from_slice(&4242u64.to_le_bytes());
            }
            _ => {}
        }
    }
    bytes
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pol/throughput.pol"))
            .expect("bench/pol/throughput.pol");
    let object = polrt::object::compile_source("throughput.pol", &source, 1 << 20)
        .expect("the throughput policy compiles");
    let metadata = &object.metadata;
    let bytes = record(metadata);
    let event = events::decode(metadata, &bytes).expect("the record decodes");
    assert_eq!(event.rule, "burst_open");
    let (n, reps) = if quick { (1_000, 3) } else { (200_000, 9) };
    println!("per event, medians of {reps} runs of {n} events:");
    let mut decode_runs = Vec::new();
    for _ in 0..reps {
        let mut event = events::Event::empty();
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                events::decode_into(metadata, std::hint::black_box(&bytes), &mut event).ok(),
            );
        }
        decode_runs.push(started.elapsed().as_nanos() as f64 / n as f64);
    }
    println!("  decode                 {:>8.0} ns", median(decode_runs));
    for (name, format) in [("json", Format::Json), ("text", Format::Text)] {
        let mut runs = Vec::new();
        for _ in 0..reps {
            let sink: BufWriter<Sink> = BufWriter::with_capacity(1 << 16, std::io::sink());
            let mut output = Output::new(Box::new(sink), format, Clock { offset_ns: 0 });
            output.set_policy("throughput", &"ab".repeat(32));
            // As `polrt run` drains: one event reused for the batch.
            let mut event = events::Event::empty();
            let started = Instant::now();
            for _ in 0..n {
                match events::decode_into(metadata, std::hint::black_box(&bytes), &mut event) {
                    Ok(()) => output.event(&event),
                    Err(error) => output.decode_error(&error.to_string()),
                }
            }
            output.flush();
            runs.push(started.elapsed().as_nanos() as f64 / n as f64);
        }
        println!("  decode + {name:<5} line    {:>8.0} ns", median(runs));
    }
}
