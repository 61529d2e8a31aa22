//! `@username` mentions in free text.

/// The most mentions one text notifies: a text naming more is a list, not a call.
pub const MAX_MENTIONS: usize = 20;

/// The usernames `text` mentions (`@ann`, `@bob.smith`), lower-cased, each once, in order of
/// first mention, at most [`MAX_MENTIONS`]. A mention starts at an `@` that begins the text or
/// follows neither a letter, a digit nor one of `_.-` (so `ann@example.com` mentions nobody),
/// and takes the username characters after it (`[A-Za-z0-9_.-]`, 3 to 32 of them) less a
/// trailing `.` or `-` (the end of a sentence).
pub fn mentions(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts = c == '@' && !previous.is_some_and(|p| is_name(p) || p == '@');
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-']);
        if (3..=32).contains(&name.len()) {
            let name = name.to_ascii_lowercase();
            if !found.contains(&name) {
                found.push(name);
                if found.len() == MAX_MENTIONS {
                    break;
                }
            }
        }
        // Skip the name, so that `@ann@bob` is one mention (ann), not two.
        while chars.peek().is_some_and(|(_, c)| is_name(*c)) {
            previous = chars.next().map(|(_, c)| c);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_after_an_at_sign_are_mentions() {
        assert_eq!(mentions("@ann, could you and @Bob.Smith look? cc @ann."), ["ann", "bob.smith"]);
        assert_eq!(mentions("(@cat_3) and @dee-"), ["cat_3", "dee"]);
    }

    #[test]
    fn addresses_short_names_and_bare_signs_are_not() {
        assert!(mentions("write to ann@example.com or @ab or @ or @@").is_empty());
        assert_eq!(mentions("@ann@bob"), ["ann"]);
    }

    #[test]
    fn a_long_list_stops_at_the_limit() {
        let text: String = (0..30).map(|n| format!("@user{n} ")).collect();
        assert_eq!(mentions(&text).len(), MAX_MENTIONS);
    }
}
