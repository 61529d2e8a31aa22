//! Field validation that reports every failing field at once.

use std::fmt;

/// One failing field of a request, as a client sees it in a `422` problem document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as the client spelled it (`title`, `customer.name`, `page`).
    pub field: String,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A non-empty list of failing fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// A list holding one failing field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// The list, or `None` when it would be empty.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        (!errors.is_empty()).then_some(Self(errors))
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Whether `field` is among the failing fields.
    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

/// Collects the outcome of parsing each field, so that a request with three bad fields is told
/// about all three in one answer.
///
/// ```
/// use workbench_core::Validator;
/// let mut v = Validator::default();
/// let name: Option<String> = v.required("name", None::<&str>, |s| Ok::<_, String>(s.to_owned()));
/// let age = v.check("age", "x".parse::<u8>().map_err(|_| "must be a number"));
/// assert!(name.is_none() && age.is_none());
/// assert_eq!(v.finish().unwrap_err().as_slice().len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// Records `result` under `field`, returning the value when it is valid.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.push(FieldError::new(field, e.to_string()));
                None
            }
        }
    }

    /// Parses a field the client must send; a missing (or `null`) one is reported as required.
    pub fn required<I, T, E: fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<I>,
        parse: impl FnOnce(I) -> Result<T, E>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.check(field, parse(raw)),
            None => {
                self.errors.push(FieldError::new(field, "is required"));
                None
            }
        }
    }

    /// Parses a field the client may leave out. `Ok(None)` when it is absent; `Err(())` when it is
    /// invalid (the failure itself is recorded in the validator).
    #[expect(clippy::result_unit_err, reason = "the error is recorded in the validator, not returned")]
    pub fn optional<I, T, E: fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<I>,
        parse: impl FnOnce(I) -> Result<T, E>,
    ) -> Result<Option<T>, ()> {
        match raw {
            None => Ok(None),
            Some(raw) => self.check(field, parse(raw)).map(Some).ok_or(()),
        }
    }

    /// Adds a failure that is not the outcome of a parse (a rule across fields, say).
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(())` when every checked field was valid, otherwise every failure.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(FieldErrors(self.errors)) }
    }
}

/// What `str::trim` and `str::split_whitespace` treat as whitespace (Unicode `White_Space`), as the
/// body of a regular-expression character class that ECMA-262, Python and Rust engines all read
/// alike. The OpenAPI document states rules about trimmed text with it, so that a schema accepts a
/// value exactly when the server does.
pub const WHITESPACE_CLASS: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_failure_in_order() {
        let mut v = Validator::default();
        v.required("a", None::<&str>, |_| Ok::<_, String>(()));
        v.check("b", Err::<(), _>("too long"));
        v.check("c", Ok::<_, String>(1));
        let errors = v.finish().unwrap_err();
        assert_eq!(errors.as_slice(), &[FieldError::new("a", "is required"), FieldError::new("b", "too long")]);
        assert_eq!(errors.to_string(), "a: is required; b: too long");
    }

    #[test]
    fn optional_absent_is_fine_and_invalid_is_reported() {
        let mut v = Validator::default();
        assert_eq!(v.optional("x", None::<i32>, Ok::<_, String>), Ok(None));
        assert_eq!(v.optional("y", Some(-1), |_| Err::<i32, _>("must be positive")), Err(()));
        assert!(!v.is_valid());
        assert!(v.finish().unwrap_err().contains("y"));
    }
}
