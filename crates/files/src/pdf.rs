//! PDF documents Workbench generates from data: the inputs of each template (`invoice`,
//! `profile`, `task_report`), the rules an invoice keeps (validated fields, totals computed
//! from its lines, amounts in the currency's minor units), and the [`PdfRenderer`] port.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, Validator};

/// The most lines one invoice may have. With [`MAX_DESCRIPTION_CHARS`], this bounds the layout
/// work a valid invoice can ask for, and is checked before any of it.
pub const MAX_INVOICE_LINES: usize = 500;
/// The longest line description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The largest quantity on one line.
pub const MAX_QUANTITY: f64 = 1_000_000.0;
/// The largest unit price, in minor units (ten billion euros, say).
pub const MAX_UNIT_PRICE_MINOR: i64 = 1_000_000_000_000;

/// The templates a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PdfTemplate {
    /// An invoice: lines, totals computed from them, optional tax.
    Invoice,
    /// The caller's profile, with counts of what they have.
    Profile,
    /// The caller's visible tasks, filtered, with counts by status.
    TaskReport,
}

impl PdfTemplate {
    /// Every template.
    pub const ALL: [PdfTemplate; 3] = [PdfTemplate::Invoice, PdfTemplate::Profile, PdfTemplate::TaskReport];

    /// The template's name as clients spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PdfTemplate::Invoice => "invoice",
            PdfTemplate::Profile => "profile",
            PdfTemplate::TaskReport => "task_report",
        }
    }

    /// The template named `raw`, or the message a `422` carries.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| "must be one of invoice, profile, task_report".to_owned())
    }
}

impl fmt::Display for PdfTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A currency by its ISO 4217 code, with the number of minor units its amounts are kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: iso_currency::Currency,
    minor_units: u8,
}

impl Currency {
    /// Accepts an ISO 4217 code (`EUR`, `jpy`) of a currency that has minor units defined;
    /// units of account such as gold (`XAU`) are refused, an invoice cannot be written in them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = raw.trim().to_ascii_uppercase();
        let code = iso_currency::Currency::from_code(&upper).ok_or("must be an ISO 4217 currency code")?;
        let minor_units = code
            .exponent()
            .and_then(|e| u8::try_from(e).ok())
            .ok_or("must be a currency with minor units, not a unit of account")?;
        Ok(Self { code, minor_units })
    }

    /// Every code [`Currency::parse`] accepts, in ISO 4217's order.
    pub fn codes() -> Vec<&'static str> {
        use iso_currency::IntoEnumIterator;
        iso_currency::Currency::iter().filter(|c| Self::parse(c.code()).is_ok()).map(|c| c.code()).collect()
    }

    /// The three-letter code (`EUR`).
    pub fn code(self) -> &'static str {
        self.code.code()
    }

    /// How many decimal places an amount has (JPY 0, EUR 2, KWD 3).
    pub fn minor_units(self) -> u8 {
        self.minor_units
    }

    /// An amount given in minor units, written with its decimal places and thousands separated
    /// by commas: `123456` EUR is `1,234.56`, JPY is `123,456`, KWD is `123.456`.
    pub fn format_minor(self, amount: i128) -> String {
        let digits = amount.unsigned_abs().to_string();
        let decimals = usize::from(self.minor_units);
        let padded = format!("{digits:0>width$}", width = decimals + 1);
        let (whole, fraction) = padded.split_at(padded.len() - decimals);
        let mut out = String::with_capacity(padded.len() + padded.len() / 3 + 2);
        if amount < 0 {
            out.push('-');
        }
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if decimals > 0 {
            out.push('.');
            out.push_str(fraction);
        }
        out
    }
}

/// A positive quantity with at most three decimal places, kept exactly in thousandths so that
/// `3 × 19.99` is `59.97` and not a float's idea of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    thousandths: i64,
}

impl Quantity {
    /// A quantity from what a client sent: positive, at most three decimals and [`MAX_QUANTITY`];
    /// the message a `422` carries otherwise.
    pub fn parse(raw: f64) -> Result<Self, String> {
        if !raw.is_finite() || raw <= 0.0 {
            return Err("must be a positive number".into());
        }
        if raw > MAX_QUANTITY {
            return Err("must be at most 1000000".into());
        }
        let scaled = raw * 1000.0;
        if (scaled - scaled.round()).abs() > 1e-6 {
            return Err("must have at most 3 decimal places".into());
        }
        // In range: 0 < scaled <= 1e9, checked above.
        #[expect(clippy::cast_possible_truncation, reason = "bounded to 1e9 and rounded just above")]
        let thousandths = scaled.round() as i64;
        Ok(Self { thousandths })
    }

    /// The quantity in thousandths (`2.5` is `2500`).
    pub fn thousandths(self) -> i64 {
        self.thousandths
    }
}

impl fmt::Display for Quantity {
    /// Without trailing zeros: `3`, `2.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.thousandths / 1000;
        let fraction = self.thousandths % 1000;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let fraction = format!("{fraction:03}");
            write!(f, "{whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

/// A tax rate in basis points (hundredths of a percent), `0..=100 %` with at most two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxRate {
    basis_points: i64,
}

impl TaxRate {
    /// A rate from a percentage a client sent (`20`, `7.5`); the message a `422` carries otherwise.
    pub fn parse(percent: f64) -> Result<Self, String> {
        if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
            return Err("must be between 0 and 100".into());
        }
        let scaled = percent * 100.0;
        if (scaled - scaled.round()).abs() > 1e-6 {
            return Err("must have at most 2 decimal places".into());
        }
        #[expect(clippy::cast_possible_truncation, reason = "bounded to 0..=10000 and rounded just above")]
        let basis_points = scaled.round() as i64;
        Ok(Self { basis_points })
    }

    /// The rate in hundredths of a percent (`7.5 %` is 750).
    pub fn basis_points(self) -> i64 {
        self.basis_points
    }
}

impl fmt::Display for TaxRate {
    /// As a percentage without trailing zeros: `20 %`, `7.5 %`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.basis_points / 100;
        let fraction = self.basis_points % 100;
        if fraction == 0 {
            write!(f, "{whole} %")
        } else {
            let fraction = format!("{fraction:02}");
            write!(f, "{whole}.{} %", fraction.trim_end_matches('0'))
        }
    }
}

/// Divides rounding half away from zero, as invoices round.
fn div_round(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 { (numerator + half) / denominator } else { (numerator - half) / denominator }
}

/// An invoice as a client sent it in `data`, before validation. Missing fields deserialize to
/// `None` so that validation can name every one of them at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceDraft {
    /// The invoice number as printed (`INV-2026-0042`).
    pub number: Option<String>,
    /// The invoice date, `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Who the invoice is addressed to; required.
    pub customer: Option<CustomerDraft>,
    /// The invoice's lines: at least one, at most [`MAX_INVOICE_LINES`].
    pub lines: Option<Vec<InvoiceLineDraft>>,
    /// ISO 4217 code (`EUR`, `JPY`).
    pub currency: Option<String>,
    /// Optional tax rate in percent (`20`, `7.5`); without it the invoice says nothing of tax.
    pub tax_rate_percent: Option<f64>,
}

/// The customer of an invoice, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerDraft {
    /// The customer's name, one line of at most 200 characters; required.
    pub name: Option<String>,
    /// Postal address; line breaks are kept.
    pub address: Option<String>,
}

/// One invoice line, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceLineDraft {
    /// What was sold, at most [`MAX_DESCRIPTION_CHARS`] characters; required.
    pub description: Option<String>,
    /// A positive number with at most three decimals (`3`, `2.5`).
    pub quantity: Option<f64>,
    /// The unit price in the currency's minor units (cents for EUR, yen for JPY).
    pub unit_price_cents: Option<i64>,
}

/// A validated invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// The invoice number as printed, one line of at most 64 characters.
    pub number: String,
    /// The invoice date.
    pub date: NaiveDate,
    /// Who it is addressed to.
    pub customer: Customer,
    /// Its lines, in order.
    pub lines: Vec<InvoiceLine>,
    /// The currency of every amount.
    pub currency: Currency,
    /// The tax rate, when the invoice states tax.
    pub tax_rate: Option<TaxRate>,
}

/// Who an invoice is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The customer's name, one line.
    pub name: String,
    /// The postal address, line breaks kept.
    pub address: Option<String>,
}

/// One validated invoice line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// What was sold.
    pub description: String,
    /// How many, exactly.
    pub quantity: Quantity,
    /// In the currency's minor units, never negative.
    pub unit_price_minor: i64,
}

impl InvoiceLine {
    /// Quantity × unit price in minor units, rounded half away from zero to a whole minor unit.
    pub fn total_minor(&self) -> i128 {
        div_round(i128::from(self.quantity.thousandths()) * i128::from(self.unit_price_minor), 1000)
    }
}

impl Invoice {
    /// Validates a draft, naming every failing field at once (`lines[3].quantity`).
    pub fn parse(draft: InvoiceDraft) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let number = v.required("number", draft.number, |s| single_line::<64>(&s));
        let date = v.required("date", draft.date, |s| parse_date(&s));
        let currency = v.required("currency", draft.currency, |s| Currency::parse(&s));
        let tax_rate = v.optional("tax_rate_percent", draft.tax_rate_percent, TaxRate::parse);

        let customer = match draft.customer {
            None => {
                v.fail("customer", "is required");
                None
            }
            Some(c) => {
                let name = v.required("customer.name", c.name, |s| single_line::<200>(&s));
                let address = v.optional("customer.address", c.address, |s| multi_line::<1_000>(&s));
                match (name, address) {
                    (Some(name), Ok(address)) => Some(Customer { name, address }),
                    _ => None,
                }
            }
        };

        let lines = match draft.lines {
            None => {
                v.fail("lines", "is required");
                None
            }
            Some(lines) if lines.is_empty() => {
                v.fail("lines", "must have at least one line");
                None
            }
            Some(lines) if lines.len() > MAX_INVOICE_LINES => {
                v.fail("lines", format!("must have at most {MAX_INVOICE_LINES} lines"));
                None
            }
            Some(lines) => {
                let parsed: Vec<Option<InvoiceLine>> = lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, line)| {
                        let description = v.required(&format!("lines[{i}].description"), line.description, |s| {
                            multi_line::<MAX_DESCRIPTION_CHARS>(&s)
                        });
                        let quantity = v.required(&format!("lines[{i}].quantity"), line.quantity, Quantity::parse);
                        let unit_price_minor =
                            v.required(&format!("lines[{i}].unit_price_cents"), line.unit_price_cents, unit_price);
                        Some(InvoiceLine {
                            description: description?,
                            quantity: quantity?,
                            unit_price_minor: unit_price_minor?,
                        })
                    })
                    .collect();
                parsed.into_iter().collect::<Option<Vec<_>>>()
            }
        };

        match (number, date, customer, lines, currency, tax_rate) {
            (Some(number), Some(date), Some(customer), Some(lines), Some(currency), Ok(tax_rate)) if v.is_valid() => {
                Ok(Self { number, date, customer, lines, currency, tax_rate })
            }
            // Every `None` or `Err` above was recorded in `v`, so `finish` cannot be `Ok` here.
            _ => Err(v.finish().expect_err("a field failed, or a value would be present")),
        }
    }

    /// The sum of the line totals, in minor units.
    pub fn subtotal_minor(&self) -> i128 {
        self.lines.iter().map(InvoiceLine::total_minor).sum()
    }

    /// The tax on the subtotal, rounded half away from zero; zero without a tax rate.
    pub fn tax_minor(&self) -> i128 {
        self.tax_rate.map_or(0, |rate| div_round(self.subtotal_minor() * i128::from(rate.basis_points()), 10_000))
    }

    /// What the customer pays: subtotal plus tax.
    pub fn total_minor(&self) -> i128 {
        self.subtotal_minor() + self.tax_minor()
    }
}

fn single_line<const MAX: usize>(raw: &str) -> Result<String, String> {
    let text = BoundedText::<MAX>::parse(raw)?.into_inner();
    if text.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    Ok(text)
}

/// Trimmed text that may hold line breaks (`\r\n` becomes `\n`) and tabs but no other control
/// characters.
fn multi_line<const MAX: usize>(raw: &str) -> Result<String, String> {
    // A line break is counted as it is kept, one character.
    let text = BoundedText::<MAX>::parse(&raw.replace("\r\n", "\n"))?.into_inner();
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(text)
}

fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let well_formed = raw.len() == 10 && raw.bytes().enumerate().all(|(i, b)| (i == 4 || i == 7) == (b == b'-'));
    well_formed
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| "must be a date as YYYY-MM-DD".to_owned())
}

fn unit_price(raw: i64) -> Result<i64, String> {
    if raw < 0 {
        Err("must not be negative".into())
    } else if raw > MAX_UNIT_PRICE_MINOR {
        Err(format!("must be at most {MAX_UNIT_PRICE_MINOR}"))
    } else {
        Ok(raw)
    }
}

/// A labelled count shown in a report (`Tasks owned: 12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportCount {
    /// What is counted (`Tasks owned`).
    pub label: String,
    /// How many.
    pub value: u64,
}

impl ReportCount {
    /// A count of `value` under `label`.
    pub fn new(label: impl Into<String>, value: u64) -> Self {
        Self { label: label.into(), value }
    }
}

/// The caller's profile as the `profile` template prints it; the files service fills it from
/// the user and the counts it gathers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileReport {
    /// The caller's username.
    pub username: String,
    /// Their given name, if they gave one.
    pub first_name: Option<String>,
    /// Their family name, if they gave one.
    pub last_name: Option<String>,
    /// Their email address.
    pub email: String,
    /// The role as the API spells it (`user`, `moderator`, `admin`).
    pub role: String,
    /// When their account was made.
    pub member_since: DateTime<Utc>,
    /// What they wrote about themself, if anything.
    pub bio: Option<String>,
    /// Counts to show, in order (`Tasks owned`, `Tasks assigned`, `Files`…).
    pub counts: Vec<ReportCount>,
    /// When the document was made, printed in its footer.
    pub generated_at: DateTime<Utc>,
}

/// The filters a task report was made with, printed in its header as the client gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskReportFilters {
    /// The statuses asked for, as sent.
    pub status: Option<String>,
    /// The lower bound on due dates asked for, as sent.
    pub due_after: Option<String>,
    /// The upper bound on due dates asked for, as sent.
    pub due_before: Option<String>,
}

/// One task in a task report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReportRow {
    /// The task's title.
    pub title: String,
    /// As the API spells it (`pending`, `in_progress`, `completed`).
    pub status: String,
    /// As the API spells it (`low`, `medium`, `high`).
    pub priority: String,
    /// The task's due date, if it has one.
    pub due_date: Option<NaiveDate>,
    /// The assignee's username, if any.
    pub assignee: Option<String>,
    /// What its structure says (`subtask of #12`, `blocked`, `in Doing`, `Room: Kitchen`),
    /// printed under its title.
    pub notes: Vec<String>,
}

/// The caller's visible tasks as the `task_report` template prints them; the files service
/// fills it from a task query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    /// Whose report this is (a username).
    pub prepared_for: String,
    /// The filters the report was made with.
    pub filters: TaskReportFilters,
    /// The tasks, in the order printed.
    pub rows: Vec<TaskReportRow>,
    /// When the document was made, printed in its footer.
    pub generated_at: DateTime<Utc>,
}

impl TaskReport {
    /// The task statuses in workflow order; each is counted even when no row has it.
    pub const STATUS_ORDER: [&'static str; 3] = ["pending", "in_progress", "completed"];

    /// How many rows have each status: the workflow statuses first (zero included), then any
    /// other status found in the rows, alphabetically.
    pub fn counts_by_status(&self) -> Vec<ReportCount> {
        let mut others: BTreeMap<&str, u64> = BTreeMap::new();
        let mut known = [0_u64; 3];
        for row in &self.rows {
            match Self::STATUS_ORDER.iter().position(|s| *s == row.status) {
                Some(i) => known[i] += 1,
                None => *others.entry(row.status.as_str()).or_default() += 1,
            }
        }
        Self::STATUS_ORDER
            .iter()
            .zip(known)
            .map(|(status, n)| ReportCount::new(*status, n))
            .chain(others.into_iter().map(|(status, n)| ReportCount::new(status, n)))
            .collect()
    }
}

/// A document to render, with its template's input.
#[derive(Debug, Clone, PartialEq)]
pub enum PdfDocument {
    /// An invoice.
    Invoice(Invoice),
    /// A profile.
    Profile(ProfileReport),
    /// A task report.
    TaskReport(TaskReport),
}

impl PdfDocument {
    /// The template that renders this document.
    pub fn template(&self) -> PdfTemplate {
        match self {
            PdfDocument::Invoice(_) => PdfTemplate::Invoice,
            PdfDocument::Profile(_) => PdfTemplate::Profile,
            PdfDocument::TaskReport(_) => PdfTemplate::TaskReport,
        }
    }

    /// A file name for the stored PDF (`invoice-inv-2026-0042.pdf`, `profile-alice.pdf`,
    /// `task-report-2026-01-15.pdf`), safe on any file system.
    pub fn file_name(&self) -> String {
        let stem = match self {
            PdfDocument::Invoice(i) => format!("invoice-{}", i.number),
            PdfDocument::Profile(p) => format!("profile-{}", p.username),
            PdfDocument::TaskReport(r) => format!("task-report-{}", r.generated_at.format("%Y-%m-%d")),
        };
        let mut safe = String::with_capacity(stem.len());
        for c in stem.chars() {
            let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
            if !(c == '-' && safe.ends_with('-')) {
                safe.push(c);
            }
        }
        format!("{}.pdf", safe.trim_end_matches('-'))
    }
}

/// A rendered PDF.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedPdf {
    /// The complete file.
    pub bytes: Vec<u8>,
    /// How many pages it has.
    pub pages: usize,
}

impl fmt::Debug for RenderedPdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedPdf").field("bytes", &self.bytes.len()).field("pages", &self.pages).finish()
    }
}

/// Why a document could not be rendered. Input problems are caught before, by
/// [`Invoice::parse`]; these are the renderer's own.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The document would exceed the renderer's page limit (a report over far too many tasks).
    #[error("the document would have {pages} pages, more than the {max} allowed")]
    TooLong {
        /// How many pages the document would have had.
        pages: usize,
        /// The most pages the renderer makes.
        max: usize,
    },
    /// The render ran past the renderer's time bound and was abandoned: with inputs inside
    /// their limits, that is a busy server rather than a bad request.
    #[error("rendering took longer than the {} s allowed and was abandoned", .limit.as_secs())]
    TimedOut {
        /// The time bound the render ran past.
        limit: std::time::Duration,
    },
    /// Anything else; the cause is for the logs.
    #[error("PDF rendering failed: {0:#}")]
    Failed(#[source] anyhow::Error),
}

/// Turns a [`PdfDocument`] into a PDF file.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PdfRenderer: Send + Sync {
    /// Renders `document` as a complete PDF (A4) that a person would accept.
    ///
    /// An implementation MUST: embed every font it uses (no system fonts, no network), so that
    /// accented, Cyrillic and Greek text shows as written; wrap long text inside its table cell
    /// rather than cut it or run over; right-align amounts; print the invoice totals computed by
    /// [`Invoice`]'s methods; break pages by itself, repeating a table's header row on every page
    /// it spans; print `Page n of N` on every page; and do its CPU work off the async executor.
    /// It MUST return [`PdfError::TooLong`] instead of rendering past its page limit, and
    /// [`PdfError::TimedOut`] instead of rendering past its time bound (and then stop spending
    /// CPU on the document).
    async fn render(&self, document: PdfDocument) -> Result<RenderedPdf, PdfError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> InvoiceDraft {
        serde_json::from_value(serde_json::json!({
            "number": "INV-1",
            "date": "2026-01-15",
            "customer": {"name": "Müller & Søn", "address": "Torvet 1\n5970 Ærøskøbing"},
            "currency": "EUR",
            "lines": [
                {"description": "Widget", "quantity": 3, "unit_price_cents": 1999},
                {"description": "Consulting", "quantity": 2.5, "unit_price_cents": 10000},
                {"description": "Screws", "quantity": 0.333, "unit_price_cents": 100}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn totals_are_computed_from_the_lines_exactly() {
        let invoice = Invoice::parse(draft()).unwrap();
        let totals: Vec<i128> = invoice.lines.iter().map(InvoiceLine::total_minor).collect();
        // 3 × 19.99 = 59.97; 2.5 × 100.00 = 250.00; 0.333 × 1.00 = 0.333 → 0.33
        assert_eq!(totals, [5997, 25000, 33]);
        assert_eq!(invoice.subtotal_minor(), 31030);
        assert_eq!(invoice.tax_minor(), 0);
        assert_eq!(invoice.total_minor(), 31030);
        assert_eq!(invoice.currency.format_minor(invoice.total_minor()), "310.30");
    }

    #[test]
    fn tax_is_added_only_when_a_rate_is_given() {
        let mut d = draft();
        d.tax_rate_percent = Some(7.5);
        let invoice = Invoice::parse(d).unwrap();
        // 310.30 × 7.5 % = 23.2725 → 23.27
        assert_eq!(invoice.tax_minor(), 2327);
        assert_eq!(invoice.total_minor(), 33357);
        assert_eq!(invoice.tax_rate.unwrap().to_string(), "7.5 %");
    }

    #[test]
    fn amounts_follow_the_currency_minor_units() {
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!((jpy.code(), jpy.minor_units()), ("JPY", 0));
        assert_eq!(jpy.format_minor(1_234_567), "1,234,567");
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(eur.format_minor(5), "0.05");
        assert_eq!(eur.format_minor(123_456_789), "1,234,567.89");
        assert_eq!(eur.format_minor(-100), "-1.00");
        assert_eq!(Currency::parse("KWD").unwrap().format_minor(1234), "1.234");
        assert!(Currency::parse("XAU").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn quantities_are_exact_thousandths() {
        assert_eq!(Quantity::parse(19.99).unwrap().thousandths(), 19990);
        assert_eq!(Quantity::parse(2.5).unwrap().to_string(), "2.5");
        assert_eq!(Quantity::parse(3.0).unwrap().to_string(), "3");
        assert_eq!(Quantity::parse(0.125).unwrap().to_string(), "0.125");
        assert!(Quantity::parse(0.0).is_err());
        assert!(Quantity::parse(-1.0).is_err());
        assert!(Quantity::parse(1.0005).is_err());
        assert!(Quantity::parse(2_000_000.0).is_err());
    }

    #[test]
    fn every_failing_field_is_named_with_its_path() {
        let d: InvoiceDraft = serde_json::from_value(serde_json::json!({
            "number": "  ",
            "date": "15/01/2026",
            "customer": {},
            "currency": "XYZ",
            "tax_rate_percent": 120,
            "lines": [
                {"description": "ok", "quantity": 1, "unit_price_cents": 1},
                {"description": "", "quantity": 0, "unit_price_cents": -5},
                {}
            ]
        }))
        .unwrap();
        let errors = Invoice::parse(d).unwrap_err();
        for field in [
            "number",
            "date",
            "customer.name",
            "currency",
            "tax_rate_percent",
            "lines[1].description",
            "lines[1].quantity",
            "lines[1].unit_price_cents",
            "lines[2].description",
            "lines[2].quantity",
            "lines[2].unit_price_cents",
        ] {
            assert!(errors.contains(field), "{field} missing from {errors}");
        }
        assert!(!errors.contains("lines[0].quantity"));
    }

    #[test]
    fn too_many_lines_or_too_long_a_description_is_refused_before_any_line_is_read() {
        let line = || InvoiceLineDraft {
            description: Some("Widget".into()),
            quantity: Some(1.0),
            unit_price_cents: Some(100),
        };
        let mut d = draft();
        d.lines = Some(vec![line(); MAX_INVOICE_LINES]);
        assert!(Invoice::parse(d.clone()).is_ok());
        d.lines = Some(vec![InvoiceLineDraft::default(); MAX_INVOICE_LINES + 1]);
        let errors = Invoice::parse(d).unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines"], "the lines are not even looked at: {errors}");

        let mut d = draft();
        let mut long = line();
        long.description = Some("é".repeat(MAX_DESCRIPTION_CHARS + 1));
        d.lines = Some(vec![line(), line(), line(), long.clone()]);
        let errors = Invoice::parse(d.clone()).unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[3].description"]);
        long.description = Some("é".repeat(MAX_DESCRIPTION_CHARS));
        d.lines = Some(vec![line(), long]);
        assert!(Invoice::parse(d).is_ok());
    }

    #[test]
    fn an_empty_body_names_every_required_field() {
        let errors = Invoice::parse(InvoiceDraft::default()).unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["number", "date", "currency", "customer", "lines"]);
        let mut d = draft();
        d.lines = Some(vec![]);
        assert!(Invoice::parse(d).unwrap_err().contains("lines"));
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        assert!(parse_date("2026-02-28").is_ok());
        for bad in ["2026-02-30", "2026-1-05", "20260105", "2026-01-05T00:00:00Z"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_counts_list_the_workflow_first() {
        let row = |status: &str| TaskReportRow {
            title: "t".into(),
            status: status.into(),
            priority: "low".into(),
            due_date: None,
            assignee: None,
            notes: Vec::new(),
        };
        let report = TaskReport {
            prepared_for: "alice".into(),
            filters: TaskReportFilters::default(),
            rows: vec![row("completed"), row("pending"), row("completed"), row("archived")],
            generated_at: Utc::now(),
        };
        let counts: Vec<(String, u64)> = report.counts_by_status().into_iter().map(|c| (c.label, c.value)).collect();
        assert_eq!(
            counts,
            [("pending".into(), 1), ("in_progress".into(), 0), ("completed".into(), 2), ("archived".into(), 1)]
        );
    }

    #[test]
    fn file_names_are_safe() {
        let invoice = Invoice::parse(InvoiceDraft { number: Some("INV/2026 #42".into()), ..draft() }).unwrap();
        assert_eq!(PdfDocument::Invoice(invoice).file_name(), "invoice-inv-2026-42.pdf");
    }

    #[test]
    fn a_line_break_counts_once_and_other_controls_are_refused() {
        assert_eq!(multi_line::<3>(" a\r\nb ").unwrap(), "a\nb");
        assert_eq!(multi_line::<2>("a\r\nb").unwrap_err(), "must be at most 2 characters");
        assert_eq!(multi_line::<5>("a\u{7}b").unwrap_err(), "must not contain control characters");
        assert_eq!(single_line::<5>("a\nb").unwrap_err(), "must be a single line without control characters");
        assert_eq!(single_line::<5>(" \r\n ").unwrap_err(), "must not be blank");
    }

    #[test]
    fn templates_parse_by_their_api_names() {
        assert_eq!(PdfTemplate::parse("task_report"), Ok(PdfTemplate::TaskReport));
        assert!(PdfTemplate::parse("letter").is_err());
    }
}
