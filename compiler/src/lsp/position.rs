//! Byte offsets to LSP positions and back: lines, and columns in UTF-16
//! code units (the protocol's default encoding).

use serde_json::{json, Value};

use crate::span::Span;

/// The start of every line of one text.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The `{line, character}` of byte `offset` of `text`.
    pub fn position(&self, text: &str, offset: usize) -> Value {
        let offset = crate::diag::clamp_to_char_boundary(text, offset);
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let character = text[start..offset].encode_utf16().count();
        json!({"line": line, "character": character})
    }

    /// The `{start, end}` range of `span` in `text`.
    pub fn range(&self, text: &str, span: Span) -> Value {
        json!({
            "start": self.position(text, span.start as usize),
            "end": self.position(text, span.end as usize),
        })
    }

    /// The byte offset of an LSP position in `text` (clamped to the line and
    /// to the text).
    pub fn offset(&self, text: &str, position: &Value) -> usize {
        let line = position.get("line").and_then(Value::as_u64).unwrap_or(0) as usize;
        let character = position
            .get("character")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let Some(&start) = self.starts.get(line) else {
            return text.len();
        };
        let end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |next| next - 1);
        let mut units = 0;
        for (i, c) in text[start..end].char_indices() {
            if units >= character {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_both_ways() {
        // 'é' is one UTF-16 unit and two bytes; '😀' two units, four bytes.
        let text = "ab\né😀x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), json!({"line": 0, "character": 0}));
        let x = text.find('x').expect("x");
        assert_eq!(index.position(text, x), json!({"line": 1, "character": 3}));
        assert_eq!(index.offset(text, &json!({"line": 1, "character": 3})), x);
        assert_eq!(
            index.offset(text, &json!({"line": 1, "character": 99})),
            x + 1
        );
        assert_eq!(
            index.offset(text, &json!({"line": 9, "character": 0})),
            text.len()
        );
    }
}
