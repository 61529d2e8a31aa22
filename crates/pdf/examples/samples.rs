//! Renders one document of each template to a directory, for looking at them:
//! `cargo run -p workbench-pdf --example samples -- /tmp/pdf-samples`, then
//! `pdftoppm -png -r 60 /tmp/pdf-samples/invoice.pdf /tmp/pdf-samples/invoice`.

use chrono::{DateTime, NaiveDate, Utc};
use workbench_files::{
    CustomerDraft, Invoice, InvoiceDraft, InvoiceLineDraft, PdfDocument, ProfileReport, ReportCount, TaskReport,
    TaskReportFilters, TaskReportRow,
};
use workbench_pdf::TypstPdfRenderer;

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/pdf-samples".into()));
    std::fs::create_dir_all(&dir)?;
    let renderer = TypstPdfRenderer::new();
    for (name, document) in [("invoice", invoice()?), ("profile", profile()), ("task_report", task_report())] {
        let pdf = renderer.render_sync(&document)?;
        std::fs::write(dir.join(format!("{name}.pdf")), pdf.bytes)?;
    }
    Ok(())
}

/// A fixed instant, so that the samples do not change from run to run.
fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).map_or(DateTime::UNIX_EPOCH, |t| t.to_utc())
}

fn invoice() -> anyhow::Result<PdfDocument> {
    let items = [
        ("Widget, blue", 3.0, 1999),
        (
            "Beratung vor Ort in Köln: Analyse der Lagerprozesse, Workshop mit dem Team und schriftlicher Bericht über die Ergebnisse",
            2.5,
            12_000,
        ),
        ("Доставка оборудования на склад", 1.0, 4_550),
        ("Συντήρηση λογισμικού — μηνιαία συνδρομή", 12.0, 2_900),
        ("Screws M4 × 20, stainless (box of 100)", 0.5, 1_280),
        ("日本語のマニュアル（印刷版）", 2.0, 3_300),
    ];
    let lines = (0..60)
        .map(|i| {
            let (description, quantity, price) = items[i % items.len()];
            InvoiceLineDraft {
                description: Some(description.into()),
                quantity: Some(quantity),
                unit_price_cents: Some(price + i as i64),
            }
        })
        .collect();
    let invoice = Invoice::parse(InvoiceDraft {
        number: Some("INV-2026-0042".into()),
        date: Some("2026-01-15".into()),
        customer: Some(CustomerDraft {
            name: Some("Müller & Søn — Ærøskøbing".into()),
            address: Some("Vestergade 12\n5970 Ærøskøbing\nDanmark (Привет, Ελληνικά, 日本語)".into()),
        }),
        lines: Some(lines),
        currency: Some("EUR".into()),
        tax_rate_percent: Some(25.0),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(PdfDocument::Invoice(invoice))
}

fn profile() -> PdfDocument {
    PdfDocument::Profile(ProfileReport {
        username: "zoe.p".into(),
        first_name: Some("Zoë".into()),
        last_name: Some("Παπαδοπούλου-Иванова".into()),
        email: "zoe@example.com".into(),
        role: "moderator".into(),
        member_since: at("2024-03-01T09:00:00Z"),
        bio: Some(
            "Warehouse lead in Ærøskøbing. Здравствуйте! I keep the shelves in order and the \
                   manuals up to date; ask me about anything in aisle 7.\nSpeaks Danish, Greek and a little 日本語."
                .into(),
        ),
        counts: vec![
            ReportCount::new("Tasks owned", 42),
            ReportCount::new("Tasks assigned", 17),
            ReportCount::new("Tasks completed", 35),
            ReportCount::new("Products owned", 6),
            ReportCount::new("Files", 128),
        ],
        generated_at: at("2026-01-15T10:30:00Z"),
    })
}

fn task_report() -> PdfDocument {
    let statuses = ["pending", "in_progress", "completed"];
    let priorities = ["low", "medium", "high"];
    let titles = [
        "Inventory count in aisle 7",
        "Übersetzung des Handbuchs ins Deutsche und Prüfung aller Abbildungen, Tabellen und Querverweise",
        "Проверить поставку",
        "Ενημέρωση τιμοκαταλόγου",
        "Call the courier",
    ];
    PdfDocument::TaskReport(TaskReport {
        prepared_for: "zoe.p".into(),
        filters: TaskReportFilters {
            status: None,
            due_after: Some("2026-01-01".into()),
            due_before: Some("2026-04-01".into()),
        },
        rows: (0..75)
            .map(|i| TaskReportRow {
                title: titles[i % titles.len()].into(),
                status: statuses[i % 3].into(),
                priority: priorities[(i / 3) % 3].into(),
                due_date: (i % 7 != 0)
                    .then(|| NaiveDate::from_ymd_opt(2026, 1 + (i % 3) as u32, 1 + (i % 28) as u32))
                    .flatten(),
                assignee: (i % 4 != 0).then(|| ["bob", "Søren", "Мария"][i % 3].into()),
                notes: if i % 5 == 1 { vec!["blocked".into(), "in Doing".into()] } else { Vec::new() },
            })
            .collect(),
        generated_at: at("2026-01-15T10:30:00Z"),
    })
}
