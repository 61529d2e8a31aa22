//! Hand-built schemas of the PDF request, stating every rule `Invoice::parse` and the task
//! filters enforce, so that the document accepts a value exactly when the server does. Kept apart
//! from the derived wire types: the builders' names in scope would make the derives' own paths
//! look redundant to the `unused_qualifications` lint.

use utoipa::openapi::Ref;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type};
use workbench_files::{Currency, MAX_DESCRIPTION_CHARS, MAX_INVOICE_LINES, MAX_QUANTITY, MAX_UNIT_PRICE_MINOR};

use crate::body::{WHITESPACE_CLASS, component, name_list_pattern, patterned};

/// Control characters (`char::is_control`), as a regular-expression class body.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// Text that, once trimmed, is 1 to `max` characters on one line without control characters.
fn single_line(max: usize, description: &str) -> ObjectBuilder {
    let w = WHITESPACE_CLASS;
    let pattern = format!("^[{w}]*[^{w}{CONTROL}](?:[^{CONTROL}]{{0,{}}}[^{w}{CONTROL}])?[{w}]*$", max - 2);
    patterned(pattern, description)
}

/// Text that, once trimmed, is 1 to `max` characters (`\r\n` counting as one) with line breaks and
/// tabs but no other control character.
fn multi_line(max: usize, description: &str) -> ObjectBuilder {
    let w = WHITESPACE_CLASS;
    let unit = r"(?:[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]|\r\n)";
    let pattern = format!("^[{w}]*[^{w}{CONTROL}](?:{unit}{{0,{}}}[^{w}{CONTROL}])?[{w}]*$", max - 2);
    patterned(pattern, description)
}

/// The statuses of `task_report`, as `GET /tasks` reads them.
#[derive(Debug)]
pub struct TaskStatusListSchema;

component!(
    TaskStatusListSchema,
    "TaskStatusList",
    patterned(
        name_list_pattern(&["pending", "in_progress", "completed"]),
        "Comma-separated statuses: `pending`, `in_progress`, `completed` (empty items are ignored)"
    )
    .examples(["pending,in_progress"])
);

/// An invoice's data, as `Invoice::parse` checks it.
#[derive(Debug)]
pub struct InvoiceDataSchema;

component!(InvoiceDataSchema, "InvoiceData", {
    let customer = ObjectBuilder::new()
        .property("name", single_line(200, "1 to 200 characters on one line, once trimmed"))
        .required("name")
        .property(
            "address",
            multi_line(1_000, "The postal address: 1 to 1,000 characters once trimmed; line breaks are kept")
                .schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        );
    let line = ObjectBuilder::new()
        .property(
            "description",
            multi_line(MAX_DESCRIPTION_CHARS, "1 to 1,000 characters once trimmed; line breaks are kept"),
        )
        .required("description")
        .property(
            "quantity",
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .exclusive_minimum(Some(0.0))
                .maximum(Some(MAX_QUANTITY))
                .multiple_of(Some(0.001))
                .description(Some("Positive, with at most three decimals (`3`, `2.5`)")),
        )
        .required("quantity")
        .property(
            "unit_price_cents",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0.0))
                .maximum(Some(MAX_UNIT_PRICE_MINOR as f64))
                .description(Some("The unit price in the currency's minor units (cents for EUR, yen for JPY)")),
        )
        .required("unit_price_cents");
    ObjectBuilder::new()
        .property("number", single_line(64, "The invoice number as printed: 1 to 64 characters on one line"))
        .required("number")
        .property(
            "date",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
                .description(Some("The invoice date, `YYYY-MM-DD`")),
        )
        .required("date")
        .property("customer", customer)
        .required("customer")
        .property("lines", ArrayBuilder::new().items(line).min_items(Some(1)).max_items(Some(MAX_INVOICE_LINES)))
        .required("lines")
        .property(
            "currency",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(Currency::codes()))
                .description(Some("An ISO 4217 code of a currency with minor units, in upper case")),
        )
        .required("currency")
        .property(
            "tax_rate_percent",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
                .minimum(Some(0.0))
                .maximum(Some(100.0))
                .multiple_of(Some(0.01))
                .description(Some(
                    "A tax rate in percent with at most two decimals; without it the invoice shows no tax",
                )),
        )
        .examples([serde_json::json!({
            "number": "INV-2026-0042",
            "date": "2026-01-15",
            "customer": {"name": "Müller & Søn", "address": "Torvet 1\n5970 Ærøskøbing"},
            "lines": [{"description": "Kettle repair", "quantity": 1, "unit_price_cents": 4500}],
            "currency": "EUR",
            "tax_rate_percent": 20
        })])
});

/// `POST /files/pdf`: one of three shapes, chosen by `template`.
#[derive(Debug)]
pub struct PdfRequestSchema;

component!(PdfRequestSchema, "PdfRequest", {
    let template = |name: &str| ObjectBuilder::new().schema_type(Type::String).enum_values(Some([name]));
    let nullable_object = |description: &str| {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .description(Some(description))
    };
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .title(Some("Invoice"))
                .property("template", template("invoice"))
                .required("template")
                .property("data", Ref::from_schema_name("InvoiceData"))
                .required("data"),
        )
        .item(
            ObjectBuilder::new()
                .title(Some("Profile"))
                .property("template", template("profile"))
                .required("template")
                .property("data", nullable_object("Nothing is needed: the caller's profile is printed")),
        )
        .item(
            ObjectBuilder::new()
                .title(Some("TaskReport"))
                .property("template", template("task_report"))
                .required("template")
                .property("data", Ref::from_schema_name("TaskReportData")),
        )
        .description(Some(
            "`invoice` prints `data` (its totals computed from its lines); `profile` prints the caller's \
             profile; `task_report` lists the caller's visible tasks that match `data`'s filters",
        ))
});
