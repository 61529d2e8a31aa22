//! Wire shapes of the public catalogue: categories and products.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, PageRequest, TypeFailures};
use workbench_products::{
    Brand, Category, CategoryDraft, CategoryName, CategoryPatch, Currency, MAX_MODEL_CHARS, Product, ProductDraft,
    ProductName, ProductPatch, ProductSearch, ProductStatus, RawProductFilter, Slug, Website,
};

use crate::body::{
    Lenient, component, http_url_pattern, lenient, name_list_pattern, nullable, patterned, present, trimmed_text,
};
use crate::pagination::{PageNumberSchema, PageSizeSchema};

/// The schema of a category's name as `CategoryName::parse` reads it.
#[derive(Debug)]
pub struct CategoryNameSchema;

component!(
    CategoryNameSchema,
    "CategoryName",
    trimmed_text(1, CategoryName::MAX_CHARS, "1 to 100 characters once trimmed").examples(["Kitchen & Home"])
);

/// The schema of a slug as `Slug::parse` reads it.
#[derive(Debug)]
pub struct SlugSchema;

component!(
    SlugSchema,
    "Slug",
    patterned(
        format!("^[a-z0-9-]{{1,{}}}$", Slug::MAX_CHARS),
        "1 to 64 lower-case letters a-z, digits and hyphens, taken as sent"
    )
    .examples(["kitchen-home"])
);

/// The schema of a product's name as `ProductName::parse` reads it.
#[derive(Debug)]
pub struct ProductNameSchema;

component!(
    ProductNameSchema,
    "ProductName",
    trimmed_text(1, ProductName::MAX_CHARS, "1 to 200 characters once trimmed").examples(["Kettle 1.7 l"])
);

/// The schema of a brand as `Brand::parse` reads it.
#[derive(Debug)]
pub struct BrandSchema;

component!(
    BrandSchema,
    "Brand",
    trimmed_text(1, Brand::MAX_CHARS, "1 to 100 characters once trimmed").examples(["Acme"])
);

/// The schema of a product's model as the catalogue reads it.
#[derive(Debug)]
pub struct ModelSchema;

component!(
    ModelSchema,
    "ProductModel",
    trimmed_text(1, MAX_MODEL_CHARS, "1 to 100 characters once trimmed").examples(["K-170"])
);

/// The schema of a manufacturer's website as `Website::parse` reads it.
#[derive(Debug)]
pub struct WebsiteSchema;

component!(
    WebsiteSchema,
    "Website",
    patterned(
        http_url_pattern(Website::MAX_CHARS, true),
        "An absolute `http://` or `https://` URL of at most 2048 characters, without whitespace or control \
         characters (surrounding whitespace is trimmed); blank means none"
    )
    .examples(["https://www.example.com/kettle"])
);

/// The currencies a price may be in: every ISO 4217 code of a currency in use.
#[derive(Debug)]
pub struct CurrencySchema;

component!(
    CurrencySchema,
    "Currency",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Currency::codes_in_use()))
        .description(Some("An ISO 4217 code of a currency in use, in upper case"))
        .examples(["EUR"])
);

/// The `status` filter of `GET /products`.
#[derive(Debug)]
pub struct ProductStatusListSchema;

component!(
    ProductStatusListSchema,
    "ProductStatusList",
    patterned(
        name_list_pattern(&ProductStatus::ALL.map(ProductStatus::as_str)),
        "Comma-separated statuses: `active`, `discontinued` (empty items are ignored)"
    )
    .examples(["active"])
);

/// A category of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryResponse {
    pub id: i64,
    pub name: String,
    /// Lower-case ASCII letters, digits and single hyphens; unique.
    pub slug: String,
    pub description: Option<String>,
    /// Grows by one with every change; the `ETag` is derived from it.
    pub version: i64,
}

impl From<Category> for CategoryResponse {
    fn from(c: Category) -> Self {
        Self { id: c.id.0, name: c.name, slug: c.slug, description: c.description, version: c.version }
    }
}

/// `POST /categories`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateCategoryRequest {
    #[schema(value_type = CategoryNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// Derived from the name when left out (`Kitchen & Home` → `kitchen-home`).
    #[schema(value_type = Option<SlugSchema>)]
    #[serde(default)]
    pub slug: Lenient<String>,
    /// At most 1 000 characters.
    #[schema(value_type = Option<String>, max_length = 1000)]
    #[serde(default)]
    pub description: Lenient<String>,
}

impl CreateCategoryRequest {
    /// The draft, with the fields whose JSON type was wrong.
    pub fn into_draft(self) -> CategoryDraft {
        let mut failures = TypeFailures::default();
        CategoryDraft {
            name: lenient("name", self.name, &mut failures),
            slug: nullable("slug", self.slug, &mut failures),
            description: nullable("description", self.description, &mut failures),
            type_failures: failures,
        }
    }
}

/// `PUT /categories/{id}`: fields left out are kept; `null` clears `description`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateCategoryRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = CategoryNameSchema)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = SlugSchema)]
    pub slug: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 1000)]
    pub description: Option<Option<String>>,
}

impl From<UpdateCategoryRequest> for CategoryPatch {
    fn from(r: UpdateCategoryRequest) -> Self {
        Self { name: r.name, slug: r.slug, description: r.description }
    }
}

/// A product of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductResponse {
    pub id: i64,
    pub name: String,
    pub category_id: i64,
    pub brand: String,
    pub model: Option<String>,
    pub description: Option<String>,
    /// The list price in minor units of `currency`.
    pub price_cents: Option<i64>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    pub warranty_months: u16,
    pub warranty_conditions: Option<String>,
    pub manufacturer_website: Option<String>,
    /// Any JSON object, kept exactly as sent.
    #[schema(value_type = Object)]
    pub specifications: serde_json::Value,
    pub status: ProductStatus,
    /// Grows by one with every change; the `ETag` is derived from it.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Product> for ProductResponse {
    fn from(p: Product) -> Self {
        Self {
            id: p.id.0,
            name: p.name,
            category_id: p.category_id.0,
            brand: p.brand,
            model: p.model,
            description: p.description,
            price_cents: p.price_cents,
            currency: p.currency.map(|c| c.code().to_owned()),
            warranty_months: p.warranty_months,
            warranty_conditions: p.warranty_conditions,
            manufacturer_website: p.manufacturer_website,
            specifications: p.specifications.into_value(),
            status: p.status,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `POST /products`. Fields are read leniently so that a value of the wrong type is reported
/// together with every other failing field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateProductRequest {
    #[schema(value_type = ProductNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// An existing category; any other id is refused with `422` naming this field.
    #[schema(value_type = i64, required = true, minimum = 1)]
    #[serde(default)]
    pub category_id: Lenient<i64>,
    #[schema(value_type = BrandSchema, required = true)]
    #[serde(default)]
    pub brand: Lenient<String>,
    #[schema(value_type = Option<ModelSchema>)]
    #[serde(default)]
    pub model: Lenient<String>,
    #[schema(value_type = Option<String>, max_length = 10000)]
    #[serde(default)]
    pub description: Lenient<String>,
    /// Minor units; needs `currency`.
    #[schema(value_type = Option<i64>, minimum = 0)]
    #[serde(default)]
    pub price_cents: Lenient<i64>,
    /// Required with `price_cents`.
    #[schema(value_type = Option<CurrencySchema>)]
    #[serde(default)]
    pub currency: Lenient<String>,
    /// 0 to 600.
    #[schema(value_type = i64, required = true, minimum = 0, maximum = 600)]
    #[serde(default)]
    pub warranty_months: Lenient<i64>,
    #[schema(value_type = Option<String>, max_length = 5000)]
    #[serde(default)]
    pub warranty_conditions: Lenient<String>,
    #[schema(value_type = Option<WebsiteSchema>)]
    #[serde(default)]
    pub manufacturer_website: Lenient<String>,
    /// A JSON object of at most 64 KiB; default `{}`.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub specifications: Lenient<serde_json::Value>,
    /// Default `active`.
    #[schema(value_type = ProductStatus)]
    #[serde(default)]
    pub status: Lenient<ProductStatus>,
}

impl CreateProductRequest {
    /// The draft, with the fields whose JSON type was wrong.
    pub fn into_draft(self) -> ProductDraft {
        let mut e = TypeFailures::default();
        ProductDraft {
            name: lenient("name", self.name, &mut e),
            category_id: lenient("category_id", self.category_id, &mut e),
            brand: lenient("brand", self.brand, &mut e),
            model: nullable("model", self.model, &mut e),
            description: nullable("description", self.description, &mut e),
            price_cents: nullable("price_cents", self.price_cents, &mut e),
            currency: nullable("currency", self.currency, &mut e),
            warranty_months: lenient("warranty_months", self.warranty_months, &mut e),
            warranty_conditions: nullable("warranty_conditions", self.warranty_conditions, &mut e),
            manufacturer_website: nullable("manufacturer_website", self.manufacturer_website, &mut e),
            specifications: lenient("specifications", self.specifications, &mut e),
            status: lenient("status", self.status, &mut e),
            type_failures: e,
        }
    }
}

/// `PUT` and `PATCH /products/{id}`: fields left out are kept; `null` clears a nullable field
/// (`model`, `description`, `price_cents`, `currency`, `warranty_conditions`,
/// `manufacturer_website`) and is refused for the others.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateProductRequest {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = ProductNameSchema)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 1)]
    pub category_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = BrandSchema)]
    pub brand: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ModelSchema>, nullable)]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 10000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 0)]
    pub price_cents: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CurrencySchema>, nullable)]
    pub currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64, minimum = 0, maximum = 600)]
    pub warranty_months: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, max_length = 5000)]
    pub warranty_conditions: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<WebsiteSchema>, nullable)]
    pub manufacturer_website: Option<Option<String>>,
    /// Replaces the whole object.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Object)]
    pub specifications: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = ProductStatus)]
    pub status: Option<Option<ProductStatus>>,
}

impl From<UpdateProductRequest> for ProductPatch {
    fn from(r: UpdateProductRequest) -> Self {
        Self {
            name: r.name,
            category_id: r.category_id,
            brand: r.brand,
            model: r.model,
            description: r.description,
            price_cents: r.price_cents,
            currency: r.currency,
            warranty_months: r.warranty_months,
            warranty_conditions: r.warranty_conditions,
            manufacturer_website: r.manufacturer_website,
            specifications: r.specifications,
            status: r.status,
        }
    }
}

/// Filters and page of `GET /products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// Only products of this category.
    pub category_id: Option<i64>,
    /// Only this brand (compared without regard to case).
    pub brand: Option<String>,
    #[param(value_type = Option<ProductStatusListSchema>, inline)]
    pub status: Option<String>,
    /// Case-insensitive substring of name, brand or model.
    pub q: Option<String>,
    /// Page number, from 1.
    #[param(value_type = Option<PageNumberSchema>, inline)]
    pub page: Option<i64>,
    /// Items per page, from 1; more than 100 is read as 100. Default 20.
    #[param(value_type = Option<PageSizeSchema>, inline)]
    pub per_page: Option<i64>,
}

impl ProductListQuery {
    pub fn split(self) -> (RawProductFilter, Result<PageRequest, FieldErrors>) {
        let page = PageRequest::from_signed(self.page, self.per_page);
        (RawProductFilter { category_id: self.category_id, brand: self.brand, status: self.status, q: self.q }, page)
    }
}

/// `q` and `limit` of `GET /products/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductSearchQuery {
    /// Case-insensitive substring of name, brand or model; blank finds any active product.
    pub q: Option<String>,
    /// How many products at most, from 1; default 10, more than 50 is read as 50.
    #[param(minimum = 1, default = 10)]
    pub limit: Option<i64>,
}

impl ProductSearchQuery {
    pub fn parse(self) -> Result<ProductSearch, FieldErrors> {
        let limit = match self.limit {
            Some(n) if n < 1 => return Err(FieldErrors::single("limit", "must be at least 1")),
            other => other.map(|n| n.unsigned_abs()),
        };
        ProductSearch::parse(self.q, limit)
    }
}
