//! A document's data as the templates read it (`sys.inputs`): plain strings, arrays and
//! dictionaries, with every number already formatted, so that no arithmetic or formatting rule
//! lives in a template. Multi-line text is passed as an array of lines.

use chrono::{DateTime, NaiveDate, Utc};
use typst::foundations::{Array, Dict, IntoValue, Str, Value};
use workbench_files::{Invoice, PdfDocument, ProfileReport, ReportCount, TaskReport};

/// The inputs for `document`'s template.
pub(crate) fn of(document: &PdfDocument) -> Dict {
    match document {
        PdfDocument::Invoice(invoice) => invoice_inputs(invoice),
        PdfDocument::Profile(profile) => profile_inputs(profile),
        PdfDocument::TaskReport(report) => task_report_inputs(report),
    }
}

fn dict<const N: usize>(entries: [(&str, Value); N]) -> Dict {
    let mut dict = Dict::new();
    for (key, value) in entries {
        dict.insert(Str::from(key), value);
    }
    dict
}

/// Free text as a template value, made breakable: Typst breaks lines only where Unicode allows,
/// so a long run without spaces (a part number, a URL) would run out of its cell or off the
/// page. Such runs get a zero-width space every [`BREAK_EVERY`] characters; shorter words (an
/// email address, a name) are left alone, so they copy out of the PDF as they are.
fn text(s: impl AsRef<str>) -> Value {
    Value::Str(Str::from(breakable(s.as_ref())))
}

/// Runs of non-space characters longer than this get break opportunities.
const LONG_RUN: usize = 30;
/// How far apart those break opportunities are, in characters.
const BREAK_EVERY: usize = 10;

fn breakable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut String| {
        let long = run.len() > LONG_RUN;
        for (i, c) in run.drain(..).enumerate() {
            if long && i > 0 && i % BREAK_EVERY == 0 {
                out.push('\u{200B}');
            }
            out.push(c);
        }
    };
    for c in s.chars() {
        if c.is_whitespace() {
            flush(&mut run, &mut out);
            out.push(c);
        } else {
            run.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn optional(s: Option<impl AsRef<str>>) -> Value {
    s.map_or(Value::None, text)
}

/// Text split into lines (tabs become spaces); empty when there is none.
fn lines(s: Option<&str>) -> Value {
    let lines: Array = s.unwrap_or_default().lines().map(|line| text(line.replace('\t', "    "))).collect();
    lines.into_value()
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `in_progress` → `In progress`.
fn humanise(word: &str) -> String {
    let spaced = word.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn invoice_inputs(invoice: &Invoice) -> Dict {
    let money = |amount: i128| text(invoice.currency.format_minor(amount));
    let lines_value: Array = invoice
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            dict([
                ("position", text((i + 1).to_string())),
                ("description", lines(Some(&line.description))),
                ("quantity", text(line.quantity.to_string())),
                ("unit_price", money(i128::from(line.unit_price_minor))),
                ("amount", money(line.total_minor())),
            ])
            .into_value()
        })
        .collect();
    let tax = invoice.tax_rate.map_or(Value::None, |rate| {
        dict([("rate", text(rate.to_string())), ("amount", money(invoice.tax_minor()))]).into_value()
    });
    dict([
        ("number", text(&invoice.number)),
        ("date", text(date(invoice.date))),
        ("currency", text(invoice.currency.code())),
        (
            "customer",
            dict([("name", text(&invoice.customer.name)), ("address", lines(invoice.customer.address.as_deref()))])
                .into_value(),
        ),
        ("lines", lines_value.into_value()),
        ("subtotal", money(invoice.subtotal_minor())),
        ("tax", tax),
        ("total", money(invoice.total_minor())),
    ])
}

fn counts(counts: &[ReportCount]) -> Value {
    let counts: Array = counts
        .iter()
        .map(|c| dict([("label", text(humanise(&c.label))), ("value", text(c.value.to_string()))]).into_value())
        .collect();
    counts.into_value()
}

fn profile_inputs(profile: &ProfileReport) -> Dict {
    let full_name = match (profile.first_name.as_deref(), profile.last_name.as_deref()) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    };
    dict([
        ("username", text(&profile.username)),
        ("display_name", text(full_name.as_deref().unwrap_or(&profile.username))),
        ("full_name", optional(full_name.as_deref())),
        ("email", text(&profile.email)),
        ("role", text(humanise(&profile.role))),
        ("member_since", text(date(profile.member_since.date_naive()))),
        ("bio", lines(profile.bio.as_deref())),
        ("counts", counts(&profile.counts)),
        ("generated_at", text(timestamp(profile.generated_at))),
    ])
}

fn task_report_inputs(report: &TaskReport) -> Dict {
    let f = &report.filters;
    let filters: Array = [
        f.status.as_deref().map(|s| format!("status: {}", humanise(s))),
        f.due_after.as_deref().map(|d| format!("due on or after {d}")),
        f.due_before.as_deref().map(|d| format!("due before {d}")),
    ]
    .into_iter()
    .flatten()
    .map(text)
    .collect();
    let rows: Array = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            dict([
                ("position", text((i + 1).to_string())),
                ("title", text(&row.title)),
                ("status", text(humanise(&row.status))),
                ("priority", text(humanise(&row.priority))),
                ("due_date", optional(row.due_date.map(date))),
                ("assignee", optional(row.assignee.as_deref())),
                ("notes", text(row.notes.join(" · "))),
            ])
            .into_value()
        })
        .collect();
    dict([
        ("prepared_for", text(&report.prepared_for)),
        ("generated_at", text(timestamp(report.generated_at))),
        ("filters", filters.into_value()),
        ("counts", counts(&report.counts_by_status())),
        ("rows", rows.into_value()),
    ])
}

#[cfg(test)]
mod tests {
    use super::breakable;

    #[test]
    fn only_long_runs_get_break_opportunities() {
        assert_eq!(breakable("zoe.papadopoulou@example.com and more"), "zoe.papadopoulou@example.com and more");
        let long = "A".repeat(35);
        let broken = breakable(&format!("x {long} y"));
        assert_eq!(broken.matches('\u{200B}').count(), 3);
        assert_eq!(broken.replace('\u{200B}', ""), format!("x {long} y"));
    }
}
