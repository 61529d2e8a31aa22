//! `LIKE` patterns for the searches that match words inside stored, lower-cased text: the
//! term lower-cased (Unicode, as the stored text was folded in Rust) and its own wildcards
//! escaped with a backslash, which every such query declares (`.escape('\\')`, `ESCAPE '\\'`).

/// A `LIKE` pattern matching `term` anywhere, with the pattern's own wildcards escaped.
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `term` lower-cased as a `LIKE` prefix pattern, its wildcards escaped with `\`.
pub(crate) fn prefix_pattern(term: &str) -> String {
    let mut pattern = contains_pattern(term);
    pattern.remove(0);
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_escaped_and_the_term_folded() {
        assert_eq!(contains_pattern("50%_Ä\\x"), "%50\\%\\_ä\\\\x%");
        assert_eq!(prefix_pattern("Ab_"), "ab\\_%");
    }
}
