//! Panics: an internal error of polrt is reported as a bug ("internal
//! error: ... this is a bug, please report it", exit code 101), and a panic
//! inside aya on a malformed object is turned into an error.
//!
//! Why catch aya's panics at all: aya-obj 0.3 parses and relocates objects
//! with `todo!()`s and `unwrap()`s on paths a corrupt object reaches (an
//! unexpected relocation kind, a BTF accessor it did not validate), and
//! aya 0.14 is pinned. polrt must answer every malformed object with a
//! message and exit code 1, so each call into aya's object parsing,
//! relocation and program loading runs under [`catch`], which turns a panic
//! into the panic's message. Those calls only build values that are
//! dropped on the way out (map file descriptors close on unwinding), so
//! nothing half-built is used after a caught panic.
//!
//! Depends on nothing else in polrt.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Set while [`catch`] runs its closure on this thread.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// The message of the panic [`catch`] caught.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The message and location of a panic.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    match info.location() {
        Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
        None => message,
    }
}

/// Installs the binary's panic report: a panic outside [`catch`] prints
/// `polrt: internal error: MESSAGE (at FILE:LINE); this is a bug, please
/// report it` and unwinds (so attached programs are detached on the way),
/// and the process exits with code 101.
pub fn report_panics_as_bugs() {
    panic::set_hook(Box::new(|info| {
        eprintln!(
            "polrt: internal error: {}; this is a bug, please report it",
            describe(info)
        );
    }));
}

/// Wraps the current panic hook (once) so that a panic inside [`catch`] is
/// recorded quietly instead of reported.
fn quiet_inside_catch() {
    static WRAP: Once = Once::new();
    WRAP.call_once(|| {
        let outer = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() {
                CAUGHT.set(Some(describe(info)));
            } else {
                outer(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic in it into `Err(message)`. For calls into aya
/// on input polrt does not control (see the module docs), never for polrt's
/// own code.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    quiet_inside_catch();
    let was = CATCHING.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.set(was);
    result.map_err(|_| CAUGHT.take().unwrap_or_else(|| "(no message)".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_catch_becomes_its_message() {
        let caught = catch(|| -> u32 { panic!("not yet implemented: FIXME") });
        let message = caught.expect_err("it panicked");
        assert!(
            message.starts_with("not yet implemented: FIXME (at "),
            "{message}"
        );
        assert!(message.contains("panics.rs"), "{message}");
        assert_eq!(catch(|| 7), Ok(7));
        let nested = catch(|| catch(|| -> u8 { panic!("inner") }).is_err());
        assert_eq!(nested, Ok(true));
    }
}
