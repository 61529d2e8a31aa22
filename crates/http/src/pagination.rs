//! Lists on the wire: a page with its `pagination` block and `Link` header, and lists that are
//! not paginated.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, Page, PageRequest};

use crate::body::component;

/// Where a list page stands in the whole list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
    pub pages: u64,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// 200 with one page of a list and its `Link` header (`first` and `last` always, `prev` and
/// `next` when they exist). Links keep every other query parameter of the request.
pub fn paginated<T: ToSchema + Serialize>(req: &HttpRequest, page: Page<T>) -> HttpResponse {
    let link = link_header(req, &page);
    let body = Paginated { pagination: pagination_of(&page), data: page.items };
    HttpResponse::Ok().insert_header((header::LINK, link)).json(body)
}

/// The `pagination` block of `page`.
pub fn pagination_of<T>(page: &Page<T>) -> Pagination {
    Pagination { page: page.request.page(), per_page: page.request.per_page(), total: page.total, pages: page.pages() }
}

/// The `Link` header of `page`, answering `req` (see [`paginated`]).
pub fn link_header<T>(req: &HttpRequest, page: &Page<T>) -> String {
    links(req, u64::from(page.request.page()), page.pages())
}

fn links(req: &HttpRequest, current: u64, pages: u64) -> String {
    let others: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    let url = |page: u64| {
        let mut pairs = others.clone();
        pairs.push(("page".to_owned(), page.to_string()));
        format!("<{}?{}>", req.path(), serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let last = pages.max(1);
    let mut links = vec![format!("{}; rel=\"first\"", url(1))];
    if current > 1 {
        links.push(format!("{}; rel=\"prev\"", url((current - 1).min(last))));
    }
    if current < pages {
        links.push(format!("{}; rel=\"next\"", url(current + 1)));
    }
    links.push(format!("{}; rel=\"last\"", url(last)));
    links.join(", ")
}

/// A list that is not paginated.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataList<T: ToSchema> {
    pub data: Vec<T>,
}

/// The schema of `page` as `PageRequest::from_signed` reads it: any signed 64-bit number from 1
/// (below 1 is a `422` naming it, like any parsable value outside the allowed set).
#[derive(Debug)]
pub struct PageNumberSchema;

component!(
    PageNumberSchema,
    "PageNumber",
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(i64::MAX)).default(Some(1.into()))
);

/// The schema of `per_page` as `PageRequest::from_signed` reads it: any signed 64-bit number
/// from 1, more than [`PageRequest::MAX_PER_PAGE`] being read as that many.
#[derive(Debug)]
pub struct PageSizeSchema;

component!(
    PageSizeSchema,
    "PageSize",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(i64::MAX))
        .default(Some(PageRequest::DEFAULT_PER_PAGE.into()))
);

/// `page` and `per_page` of a paginated list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, FieldErrors> {
        PageRequest::from_signed(self.page, self.per_page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn links_keep_other_parameters_and_omit_missing_neighbours() {
        let req = TestRequest::get().uri("/api/v1/users?search=a%20b&page=2&per_page=10").to_http_request();
        let link = links(&req, 2, 3);
        assert!(link.contains("</api/v1/users?search=a+b&per_page=10&page=1>; rel=\"first\""), "{link}");
        assert!(link.contains("page=1>; rel=\"prev\""));
        assert!(link.contains("page=3>; rel=\"next\""));
        assert!(link.contains("page=3>; rel=\"last\""));

        let link = links(&req, 1, 0);
        assert!(!link.contains("prev") && !link.contains("next"), "{link}");
        assert!(link.contains("page=1>; rel=\"last\""), "an empty list's last page is 1: {link}");
    }
}
