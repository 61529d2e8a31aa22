//! A page of a list, read as every list of the store is: the total first, then the page's rows,
//! unless the page starts at or past the end, which is answered empty without reading any.

use workbench_core::{Page, PageRequest, RepositoryError};

use crate::error::count;

/// `page` of a list of `total` items (a SQL count); `read` reads the page's items, in order, and
/// runs only when there are some.
pub(crate) fn counted_page<T>(
    page: PageRequest,
    total: i64,
    read: impl FnOnce() -> Result<Vec<T>, RepositoryError>,
) -> Result<Page<T>, RepositoryError> {
    let total = count(total);
    let items = if total > page.offset().unsigned_abs() { read()? } else { Vec::new() };
    Ok(Page::new(items, total, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_past_the_end_is_empty_and_not_read() {
        let third = PageRequest::new(Some(3), Some(10)).unwrap();
        let page = counted_page(third, 20, || -> Result<Vec<u8>, _> { panic!("read past the end") }).unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.total, 20);
        let second = PageRequest::new(Some(2), Some(10)).unwrap();
        let page = counted_page(second, 11, || Ok(vec![11_u8])).unwrap();
        assert_eq!((page.items, page.total), (vec![11], 11));
    }
}
