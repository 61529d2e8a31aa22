//! Rules shared by the fields of categories, products and owned products.

use std::fmt::Display;

use workbench_core::Validator;

/// An amount of money in minor units: zero or more.
pub(crate) fn cents(raw: i64) -> Result<i64, String> {
    if raw < 0 { Err("must not be negative".into()) } else { Ok(raw) }
}

/// An id a client refers to: positive.
pub(crate) fn positive_id(raw: i64) -> Result<i64, String> {
    if raw > 0 { Ok(raw) } else { Err("must be a positive id".into()) }
}

/// A sent value of a field that may be left out but not cleared; `null` is reported.
pub(crate) fn not_null<T>(v: &mut Validator, field: &str, value: Option<Option<T>>) -> Option<T> {
    if matches!(value, Some(None)) {
        v.fail(field, "must not be null");
    }
    value.flatten()
}

/// A field of a patch that may be left out (`None`), cleared (`Some(None)`) or set; a value that
/// fails `parse` is recorded in `v` and kept out of the changes.
pub(crate) fn nullable<I, T, E: Display>(
    v: &mut Validator,
    field: &str,
    value: Option<Option<I>>,
    parse: impl FnOnce(I) -> Result<T, E>,
) -> Option<Option<T>> {
    match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) => v.check(field, parse(raw)).map(Some),
    }
}

/// A field of a patch that may be left out but not cleared, parsed when sent.
pub(crate) fn required_change<I, T, E: Display>(
    v: &mut Validator,
    field: &str,
    value: Option<Option<I>>,
    parse: impl FnOnce(I) -> Result<T, E>,
) -> Option<T> {
    not_null(v, field, value).and_then(|raw| v.check(field, parse(raw)))
}

/// Splits a comma-separated list of names, parsing each and dropping repeats; an empty list means
/// "any".
pub(crate) fn name_list<T: PartialEq>(raw: &str, parse: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let mut values = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let value = parse(part)?;
        if !values.contains(&value) {
            values.push(value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_tell_absent_from_null_from_invalid() {
        let mut v = Validator::default();
        assert_eq!(nullable(&mut v, "a", None::<Option<i64>>, cents), None);
        assert_eq!(nullable(&mut v, "b", Some(None::<i64>), cents), Some(None));
        assert_eq!(nullable(&mut v, "c", Some(Some(5)), cents), Some(Some(5)));
        assert!(v.is_valid());
        assert_eq!(nullable(&mut v, "d", Some(Some(-1)), cents), None);
        assert_eq!(required_change(&mut v, "e", Some(None::<i64>), cents), None);
        let errors = v.finish().unwrap_err();
        assert!(errors.contains("d") && errors.contains("e"));
    }

    #[test]
    fn name_lists_drop_repeats_and_blanks() {
        let parse = |s: &str| if s == "x" { Err("bad".to_owned()) } else { Ok(s.to_owned()) };
        assert_eq!(name_list("a, b,,a", parse).unwrap(), ["a", "b"]);
        assert!(name_list("a,x", parse).is_err());
    }
}
