//! A structural pre-scan of a JSON body that runs before the real parser.
//!
//! It finds each top-level event's byte span and nesting depth without building anything, so a
//! hostile body (a thousand nested arrays, one event of megabytes) is answered with the precise
//! limit it breaks instead of a parser's recursion error, and costs no allocation per level.

/// Where one top-level value (one event) sits in the body, and how deep it nests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Nesting levels inside the value; an object holding only scalars has depth 1.
    pub(crate) depth: usize,
}

/// Result of scanning a body that is either one value or an array of values.
pub(crate) struct Scan {
    /// True when the body's top level is an array (a batch).
    pub(crate) is_array: bool,
    /// The top-level values: the elements of the array, or the single value.
    pub(crate) items: Vec<Span>,
}

/// Scans `body`. Malformed input is not diagnosed here (the parser does that, with positions); the
/// scan only has to be right for well-formed input and never panic or loop on anything else.
pub(crate) fn scan(body: &[u8]) -> Scan {
    let mut i = 0;
    while i < body.len() && body[i].is_ascii_whitespace() {
        i += 1;
    }
    let is_array = body.get(i) == Some(&b'[');
    let mut items = Vec::new();
    let base = usize::from(is_array);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut current: Option<Span> = None;
    while i < body.len() {
        let c = body[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                if current.is_none() && depth == base {
                    current = Some(Span {
                        start: i,
                        end: i,
                        depth: 0,
                    });
                }
            }
            b'{' | b'[' => {
                if current.is_none() && depth == base && !(is_array && depth == 0) {
                    current = Some(Span {
                        start: i,
                        end: i,
                        depth: 0,
                    });
                }
                depth += 1;
                if let Some(span) = current.as_mut() {
                    span.depth = span.depth.max(depth - base);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == base {
                    if let Some(mut span) = current.take() {
                        span.end = i + 1;
                        items.push(span);
                    }
                }
            }
            b',' if depth == base => {
                if let Some(mut span) = current.take() {
                    span.end = i;
                    items.push(span);
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                if current.is_none() && depth == base && !(is_array && depth == 0) {
                    current = Some(Span {
                        start: i,
                        end: i,
                        depth: 0,
                    });
                }
            }
        }
        i += 1;
    }
    if let Some(mut span) = current.take() {
        span.end = body.len();
        items.push(span);
    }
    Scan { is_array, items }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_depths_of_an_array() {
        let body = br#" [ {"a":{"b":[1,2]}} , {"s":"x,]}"} ,{} ] "#;
        let s = scan(body);
        assert!(s.is_array);
        assert_eq!(s.items.len(), 3);
        assert_eq!(
            &body[s.items[0].start..s.items[0].end],
            br#"{"a":{"b":[1,2]}}"#
        );
        assert_eq!(s.items[0].depth, 3);
        assert_eq!(&body[s.items[1].start..s.items[1].end], br#"{"s":"x,]}"}"#);
        assert_eq!(s.items[1].depth, 1);
        assert_eq!(s.items[2].depth, 1);
    }

    #[test]
    fn single_object_and_deep_nesting() {
        let s = scan(br#"{"x":"\"{"}"#);
        assert!(!s.is_array);
        assert_eq!(s.items.len(), 1);
        assert_eq!(s.items[0].depth, 1);
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let s = scan(deep.as_bytes());
        assert!(s.is_array);
        assert_eq!(s.items[0].depth, 999);
    }

    #[test]
    fn never_panics_on_garbage() {
        for body in [&b"]]]]"[..], b"{{{", b"\"", b"[,,,]", b"", b"\\", b"[\"\\"] {
            let _ = scan(body);
        }
    }
}
