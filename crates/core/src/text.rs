//! Text a person types, bounded in characters.
//!
//! The messages are part of the HTTP contract (a `422` names the field and says what is wrong),
//! so every domain takes them from [`TextError`] rather than spelling them again.

use std::fmt;

/// Why a text was refused, worded for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace (or nothing at all).
    #[error("must not be blank")]
    Blank,
    /// More characters than allowed.
    #[error("must be at most {max_chars} characters")]
    TooLong {
        /// The most characters allowed.
        max_chars: usize,
    },
}

// The domains' parsers answer `Result<_, String>`, the message a `422` carries.
impl From<TextError> for String {
    fn from(e: TextError) -> Self {
        e.to_string()
    }
}

/// `text` back when it has at most `max_chars` characters, counted as given: for text kept as the
/// client wrote it, or bounded before it is normalised so that the published schema's
/// `maxLength` states the rule exactly.
///
/// Characters are Unicode scalar values, what JSON Schema's `maxLength` counts: `é` is one,
/// whatever its size in UTF-8.
pub fn at_most_chars<S: AsRef<str>>(text: S, max_chars: usize) -> Result<S, TextError> {
    // `nth` stops at the first character past the bound instead of counting a long text through.
    if text.as_ref().chars().nth(max_chars).is_some() {
        return Err(TextError::TooLong { max_chars });
    }
    Ok(text)
}

/// Text a person must type: trimmed, not blank, and at most `MAX` characters once trimmed.
///
/// Domain newtypes wrap it to name what the text is (`Title(BoundedText<200>)`), so the rule and
/// its messages are said once.
///
/// ```
/// use workbench_core::{BoundedText, TextError};
/// assert_eq!(BoundedText::<5>::parse("  étés ").unwrap().as_str(), "étés");
/// assert_eq!(BoundedText::<5>::parse(" \t").unwrap_err(), TextError::Blank);
/// assert_eq!(BoundedText::<5>::parse("sixsix").unwrap_err().to_string(), "must be at most 5 characters");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BoundedText<const MAX: usize>(String);

impl<const MAX: usize> BoundedText<MAX> {
    /// The most characters the text may have.
    pub const MAX_CHARS: usize = MAX;

    /// Trims `raw` (Unicode whitespace, as [`str::trim`]), then refuses it when nothing is left
    /// or more than `MAX` characters are.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(TextError::Blank);
        }
        at_most_chars(text, MAX).map(|text| Self(text.to_owned()))
    }

    /// The text, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// As the text itself, so that a newtype wrapping it still prints as `Title("…")`.
impl<const MAX: usize> fmt::Debug for BoundedText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: usize> fmt::Display for BoundedText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> AsRef<str> for BoundedText<MAX> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Five = BoundedText<5>;

    #[test]
    fn text_is_trimmed_and_kept_trimmed() {
        assert_eq!(Five::parse("  ab c\t\n").unwrap().as_str(), "ab c");
        // Unicode whitespace too, not only ASCII: a no-break space and an ideographic space.
        assert_eq!(Five::parse("\u{a0}ab\u{3000}").unwrap().into_inner(), "ab");
    }

    #[test]
    fn blank_text_is_refused() {
        for raw in ["", " ", "\t\r\n", "\u{a0}\u{2003}"] {
            assert_eq!(Five::parse(raw), Err(TextError::Blank), "{raw:?}");
        }
        assert_eq!(TextError::Blank.to_string(), "must not be blank");
    }

    #[test]
    fn the_bound_is_in_characters_not_bytes() {
        // Five two-byte characters: ten bytes, five characters.
        assert_eq!(Five::parse("ééééé").unwrap().as_str(), "ééééé");
        assert_eq!(Five::parse("éééééé"), Err(TextError::TooLong { max_chars: 5 }));
        // A four-byte character counts once.
        assert!(Five::parse("🦀🦀🦀🦀🦀").is_ok());
        assert!(Five::parse("🦀🦀🦀🦀🦀🦀").is_err());
    }

    #[test]
    fn the_bound_applies_after_trimming() {
        assert_eq!(Five::parse("   abcde   ").unwrap().as_str(), "abcde");
        assert_eq!(Five::parse(" abcdef ").unwrap_err().to_string(), "must be at most 5 characters");
    }

    #[test]
    fn the_bound_is_inclusive() {
        assert!(BoundedText::<1>::parse("a").is_ok());
        assert!(BoundedText::<1>::parse("ab").is_err());
        assert_eq!(BoundedText::<200>::MAX_CHARS, 200);
    }

    #[test]
    fn text_kept_as_given_is_counted_as_given() {
        assert_eq!(at_most_chars("  é  ", 5), Ok("  é  "));
        assert_eq!(at_most_chars(String::from(" é  \t "), 5), Err(TextError::TooLong { max_chars: 5 }));
        assert_eq!(at_most_chars("", 0), Ok(""));
        assert_eq!(at_most_chars("a", 0), Err(TextError::TooLong { max_chars: 0 }));
        assert_eq!(String::from(TextError::TooLong { max_chars: 10_000 }), "must be at most 10000 characters");
    }

    #[test]
    fn it_prints_as_its_text() {
        let text = Five::parse(" a\"b ").unwrap();
        assert_eq!(format!("{text:?}"), r#""a\"b""#);
        assert_eq!(text.to_string(), "a\"b");
    }
}
