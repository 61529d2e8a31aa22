//! Pagination: which slice of a list a client asked for, and the slice with its total.

use crate::FieldErrors;

/// A validated request for one page of a list. `page` starts at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    /// The page size when the client names none.
    pub const DEFAULT_PER_PAGE: u32 = 20;
    /// The largest page size served: a larger `per_page` is clamped to it.
    pub const MAX_PER_PAGE: u32 = 100;

    /// Validates a `page` and `per_page` known not to be negative; see [`Self::from_signed`].
    pub fn new(page: Option<u64>, per_page: Option<u64>) -> Result<Self, FieldErrors> {
        // Past `i64::MAX` both are clamped anyway (page to `u32::MAX`, per_page to the maximum).
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Self::from_signed(page.map(signed), per_page.map(signed))
    }

    /// Validates a client's `page` and `per_page`. Zero or less is refused (naming the
    /// parameter); a `per_page` over [`Self::MAX_PER_PAGE`] is clamped rather than refused, so
    /// that a client asking for "everything" still gets an answer. Signed, so that a query's
    /// `page=-1` reaches this rule (`422`) instead of failing to parse (`400`).
    pub fn from_signed(page: Option<i64>, per_page: Option<i64>) -> Result<Self, FieldErrors> {
        let mut v = crate::Validator::default();
        let page = v.check(
            "page",
            match page.unwrap_or(1) {
                ..=0 => Err("must be at least 1"),
                n => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            },
        );
        let per_page = v.check(
            "per_page",
            match per_page.unwrap_or(i64::from(Self::DEFAULT_PER_PAGE)) {
                ..=0 => Err("must be at least 1"),
                n => Ok(n.min(i64::from(Self::MAX_PER_PAGE)) as u32),
            },
        );
        v.finish()?;
        Ok(Self { page: page.unwrap_or(1), per_page: per_page.unwrap_or(Self::DEFAULT_PER_PAGE) })
    }

    /// The first page with the default size.
    pub fn first() -> Self {
        Self { page: 1, per_page: Self::DEFAULT_PER_PAGE }
    }

    /// Which page, from 1.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// How many items a page holds.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Rows to skip: `(page - 1) * per_page`, saturating so that an absurd page is just empty.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    /// The most rows to read for this page: its `per_page`, as SQL's `LIMIT` takes it.
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first()
    }
}

/// One page of a list and how many items the whole list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// This page's items, in the list's order.
    pub items: Vec<T>,
    /// How many items the whole list holds, across every page.
    pub total: u64,
    /// The request this page answers (its number and size).
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// A page of `items` out of `total`, as `request` asked.
    pub fn new(items: Vec<T>, total: u64, request: PageRequest) -> Self {
        Self { items, total, request }
    }

    /// How many pages the whole list spans: 0 when it is empty.
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.request.per_page()))
    }

    /// The same page with each item turned into another type (a domain type into its wire form,
    /// say).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), total: self.total, request: self.request }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_clamping() {
        let p = PageRequest::new(None, None).unwrap();
        assert_eq!((p.page(), p.per_page(), p.offset()), (1, 20, 0));
        let p = PageRequest::new(Some(3), Some(500)).unwrap();
        assert_eq!((p.page(), p.per_page(), p.offset()), (3, 100, 200));
    }

    #[test]
    fn zero_is_refused_naming_each_parameter() {
        let e = PageRequest::new(Some(0), Some(0)).unwrap_err();
        assert!(e.contains("page") && e.contains("per_page"));
    }

    #[test]
    fn negative_is_refused_like_zero_and_huge_is_clamped() {
        let e = PageRequest::from_signed(Some(-1), Some(i64::MIN)).unwrap_err();
        assert!(e.contains("page") && e.contains("per_page"));
        let e = PageRequest::from_signed(Some(2), Some(-5)).unwrap_err();
        assert!(!e.contains("page") && e.contains("per_page"));
        let p = PageRequest::new(Some(u64::MAX), Some(u64::MAX)).unwrap();
        assert_eq!((p.page(), p.per_page()), (u32::MAX, 100));
    }

    #[test]
    fn pages_round_up_and_empty_is_zero() {
        let req = PageRequest::new(Some(1), Some(20)).unwrap();
        assert_eq!(Page::<()>::new(vec![], 0, req).pages(), 0);
        assert_eq!(Page::<()>::new(vec![], 150, req).pages(), 8);
        assert_eq!(Page::<()>::new(vec![], 20, req).pages(), 1);
    }
}
