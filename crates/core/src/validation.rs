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
    /// A failure of `field` (named as the client spelled it), explained by `message`.
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

    /// Every failure, in the order found.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// Every failure, in the order found, owned.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Whether `field` is among the failing fields.
    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// Adds `more` after the failures already listed.
    pub fn append(&mut self, more: FieldErrors) {
        self.0.extend(more.0);
    }

    /// Both values, or the failures of either, or of both in one list (`a`'s first): two parts of
    /// one request read apart (a list's filter and its page) are still refused in one answer.
    pub fn both<A, B>(a: Result<A, FieldErrors>, b: Result<B, FieldErrors>) -> Result<(A, B), FieldErrors> {
        match (a, b) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(mut errors), Err(more)) => {
                errors.append(more);
                Err(errors)
            }
            (Err(errors), Ok(_)) | (Ok(_), Err(errors)) => Err(errors),
        }
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

/// Fields of a request that could not be read as their type at all (a string where a number
/// belongs, `null` where a value must be), found by the adapter that decoded the request before
/// any rule ran. They travel with the draft into its parse: see [`Validator::seeded`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFailures(Vec<FieldError>);

impl TypeFailures {
    /// Notes that `field` could not be read as its type, and why.
    pub fn record(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Whether every field could be read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields that could not be read, in the order found.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
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
    /// How many of `errors`, at the front, are the type failures it was seeded with.
    seeded: usize,
}

impl Validator {
    /// A validator that starts out holding `failures`, listed first. A rule never sees a field
    /// that could not be read, only its absence: so whatever a rule says of such a field ("is
    /// required", a rule across fields) is dropped, and the field is reported as it failed.
    ///
    /// ```
    /// use workbench_core::{TypeFailures, Validator};
    /// let mut failures = TypeFailures::default();
    /// failures.record("age", "invalid type: string \"x\", expected i64");
    /// let mut v = Validator::seeded(failures);
    /// let age = v.required("age", None::<i64>, Ok::<_, String>);
    /// let name = v.required("name", None::<&str>, Ok::<_, String>);
    /// let errors = v.finish_with(age.zip(name)).unwrap_err();
    /// let fields: Vec<_> = errors.as_slice().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
    /// assert_eq!(fields, [("age", "invalid type: string \"x\", expected i64"), ("name", "is required")]);
    /// ```
    pub fn seeded(failures: TypeFailures) -> Self {
        Self { seeded: failures.0.len(), errors: failures.0 }
    }

    /// Records `result` under `field`, returning the value when it is valid.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.record(field, e.to_string());
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
                self.record(field, "is required");
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
        self.record(field, message);
    }

    /// Whether no failure has been recorded so far.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(())` when every checked field was valid, otherwise every failure.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(FieldErrors(self.errors)) }
    }

    /// `value` when every checked field was valid, otherwise every failure. `value` is meant to be
    /// built from what the checks returned, which is missing only for a field that failed (or
    /// could not be read): so a missing value always comes with at least one failure.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, FieldErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => {
                debug_assert!(!self.errors.is_empty(), "a value is missing, yet no field failed");
                Err(FieldErrors(self.errors))
            }
        }
    }

    fn record(&mut self, field: &str, message: impl Into<String>) {
        if !self.errors[..self.seeded].iter().any(|e| e.field == field) {
            self.errors.push(FieldError::new(field, message));
        }
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
    fn a_type_failure_replaces_what_the_rules_say_of_its_field_and_comes_first() {
        let mut failures = TypeFailures::default();
        failures.record("b", "invalid type");
        let mut v = Validator::seeded(failures);
        v.check("a", Err::<(), _>("too long"));
        v.required("b", None::<&str>, |_| Ok::<_, String>(()));
        v.fail("b", "must come with c");
        v.fail("c", "must come with b");
        let errors = v.finish().unwrap_err();
        assert_eq!(
            errors.as_slice(),
            &[
                FieldError::new("b", "invalid type"),
                FieldError::new("a", "too long"),
                FieldError::new("c", "must come with b"),
            ]
        );
    }

    #[test]
    fn type_failures_alone_refuse_a_value_every_rule_accepted() {
        let mut failures = TypeFailures::default();
        failures.record("x", "invalid type");
        let v = Validator::seeded(failures);
        assert!(!v.is_valid());
        assert_eq!(v.finish_with(Some(1)).unwrap_err().as_slice(), &[FieldError::new("x", "invalid type")]);
        assert_eq!(Validator::default().finish_with(Some(1)), Ok(1));
    }

    #[test]
    fn both_lists_the_first_failures_then_the_second() {
        let a = || Err::<(), _>(FieldErrors::single("status", "unknown"));
        let b = || Err::<(), _>(FieldErrors::single("page", "must be at least 1"));
        let errors = FieldErrors::both(a(), b()).unwrap_err();
        assert_eq!(errors.to_string(), "status: unknown; page: must be at least 1");
        assert!(FieldErrors::both(Ok::<_, FieldErrors>(1), b()).unwrap_err().contains("page"));
        assert_eq!(FieldErrors::both(Ok::<_, FieldErrors>(1), Ok::<_, FieldErrors>(2)), Ok((1, 2)));
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
