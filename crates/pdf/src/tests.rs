//! What a reader of the documents would notice: every template renders, long tables break
//! across pages with their header repeated, page numbers, totals, amounts aligned, long text
//! wrapped inside its cell, and non-Latin text drawn with real glyphs. Most checks read the laid
//! out pages (text runs and their positions); one also extracts the text from the PDF bytes
//! with `pdftotext` when it is installed.

use chrono::{NaiveDate, TimeZone, Utc};
use typst::layout::{Frame, FrameItem, Point, Transform};
use workbench_files::{
    Invoice, InvoiceDraft, PdfDocument, PdfError, PdfRenderer, ProfileReport, ReportCount, TaskReport,
    TaskReportFilters, TaskReportRow,
};

use super::*;

/// One run of text on a page: where it starts (points from the top left), how wide it is, and
/// whether every glyph was found in a font (glyph 0 is the "missing glyph" box).
#[derive(Debug)]
struct Run {
    x: f64,
    y: f64,
    width: f64,
    text: String,
    all_glyphs_found: bool,
}

fn runs(frame: &Frame, ts: Transform, out: &mut Vec<Run>) {
    for (pos, item) in frame.items() {
        let here = ts.pre_concat(Transform::translate(pos.x, pos.y));
        match item {
            FrameItem::Group(group) => runs(&group.frame, here.pre_concat(group.transform), out),
            FrameItem::Text(text) => {
                let origin = Point::zero().transform(here);
                out.push(Run {
                    x: origin.x.to_pt(),
                    y: origin.y.to_pt(),
                    width: text.width().to_pt(),
                    text: text.text.to_string(),
                    all_glyphs_found: text.glyphs.iter().all(|g| g.id != 0),
                });
            }
            _ => {}
        }
    }
}

fn pages(renderer: &TypstPdfRenderer, document: &PdfDocument) -> Vec<Vec<Run>> {
    let laid_out = renderer.lay_out(document, Instant::now() + Duration::from_secs(600)).unwrap();
    laid_out
        .pages()
        .iter()
        .map(|page| {
            let mut out = Vec::new();
            runs(&page.frame, Transform::identity(), &mut out);
            out
        })
        .collect()
}

fn page_text(runs: &[Run]) -> String {
    runs.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// An invoice line as (description, quantity, unit price in minor units).
type Line = (&'static str, f64, i64);

fn invoice(lines: usize, currency: &str) -> PdfDocument {
    let mut json_lines: Vec<Line> = vec![
        ("Widget, blue", 3.0, 1999),
        (
            "Consulting on the migration of the warehouse management system, including two workshops on \
             site, the written report and a follow-up call in the week after delivery",
            2.5,
            10000,
        ),
    ];
    for i in json_lines.len()..lines {
        json_lines.push(("Spare part", (i % 4 + 1) as f64, 250 + i as i64));
    }
    Invoice::parse(InvoiceDraft {
        number: Some("INV-2026-0042".into()),
        date: Some("2026-01-15".into()),
        customer: Some(workbench_files::CustomerDraft {
            name: Some("Müller & Søn — Ærøskøbing".into()),
            address: Some("Привет, улица 1\nΕλληνικά 22\n日本語 東京".into()),
        }),
        lines: Some(
            json_lines
                .into_iter()
                .map(|(d, q, p)| workbench_files::InvoiceLineDraft {
                    description: Some(d.into()),
                    quantity: Some(q),
                    unit_price_cents: Some(p),
                })
                .collect(),
        ),
        currency: Some(currency.into()),
        tax_rate_percent: None,
    })
    .map(PdfDocument::Invoice)
    .unwrap()
}

fn profile() -> PdfDocument {
    PdfDocument::Profile(ProfileReport {
        username: "zoë".into(),
        first_name: Some("Zoë".into()),
        last_name: Some("Παπαδοπούλου".into()),
        email: "zoe@example.com".into(),
        role: "moderator".into(),
        member_since: Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap(),
        bio: Some("Здравствуйте! I keep the warehouse running.\nSecond line of the bio.".into()),
        counts: vec![ReportCount::new("Tasks owned", 12), ReportCount::new("Tasks assigned", 5)],
        generated_at: Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
    })
}

fn task_report(rows: usize) -> PdfDocument {
    let statuses = ["pending", "in_progress", "completed"];
    PdfDocument::TaskReport(TaskReport {
        prepared_for: "alice".into(),
        filters: TaskReportFilters { status: None, due_after: Some("2026-01-01".into()), due_before: None },
        rows: (0..rows)
            .map(|i| TaskReportRow {
                title: if i == 1 {
                    "A task with a very long title that cannot possibly fit on one line of the title column \
                     and so must wrap inside its cell"
                        .into()
                } else {
                    format!("Task number {i}")
                },
                status: statuses[i % 3].into(),
                priority: "high".into(),
                due_date: NaiveDate::from_ymd_opt(2026, 2, 1 + (i % 28) as u32),
                assignee: (i % 2 == 0).then(|| "bob".into()),
                notes: if i == 2 {
                    vec!["subtask of #1".into(), "blocked".into(), "in Doing".into()]
                } else {
                    Vec::new()
                },
            })
            .collect(),
        generated_at: Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap(),
    })
}

fn renderer() -> TypstPdfRenderer {
    TypstPdfRenderer::new()
}

#[test]
fn every_template_renders_a_pdf() {
    let r = renderer();
    for document in [invoice(3, "EUR"), profile(), task_report(5)] {
        let pdf = r.render_sync(&document).unwrap();
        assert!(pdf.bytes.starts_with(b"%PDF-"), "{:?}", document.template());
        assert_eq!(pdf.pages, 1, "{:?}", document.template());
    }
}

#[test]
fn a_long_invoice_breaks_pages_and_repeats_the_table_header() {
    let pages = pages(&renderer(), &invoice(60, "EUR"));
    assert!(pages.len() >= 2, "60 lines made {} page(s)", pages.len());
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let text = page_text(page);
        assert!(text.contains("Description"), "page {} lacks the table header: {text}", i + 1);
        assert!(text.contains("Amount (EUR)"), "page {} lacks the amount header", i + 1);
        assert!(text.contains(&format!("Page {} of {total}", i + 1)), "page {} lacks its number: {text}", i + 1);
    }
    // The last line and the total come after the break, not lost.
    let last = page_text(&pages[total - 1]);
    assert!(last.contains("Total (EUR)"));
}

#[test]
fn totals_are_the_sum_of_the_lines() {
    // 3 × 19.99 = 59.97 and 2.5 × 100.00 = 250.00, together 309.97.
    let text = page_text(&pages(&renderer(), &invoice(2, "EUR"))[0]);
    for figure in ["59.97", "250.00", "309.97", "19.99", "2.5"] {
        assert!(text.contains(figure), "{figure} missing: {text}");
    }
    // Yen have no minor unit: 1999 is ¥1,999 and 3 of them ¥5,997.
    let text = page_text(&pages(&renderer(), &invoice(1, "JPY"))[0]);
    assert!(text.contains("5,997") && text.contains("1,999"), "{text}");
    assert!(!text.contains("19.99"), "{text}");
}

#[test]
fn amounts_are_right_aligned_in_their_column() {
    let page = &pages(&renderer(), &invoice(12, "EUR"))[0];
    let is_amount = |r: &&Run| r.text.contains('.') && r.text.chars().all(|c| c.is_ascii_digit() || ".,".contains(c));
    // Per table row (one baseline), the rightmost amount is the line's amount and the one left
    // of it the unit price.
    let mut rows: std::collections::BTreeMap<i64, Vec<&Run>> = std::collections::BTreeMap::new();
    for run in page.iter().filter(is_amount) {
        rows.entry(run.y.round() as i64).or_default().push(run);
    }
    let (mut unit_ends, mut amount_ends) = (Vec::new(), Vec::new());
    for runs in rows.values_mut().filter(|runs| runs.len() >= 2) {
        runs.sort_by(|a, b| a.x.total_cmp(&b.x));
        amount_ends.push(runs[runs.len() - 1].x + runs[runs.len() - 1].width);
        unit_ends.push(runs[runs.len() - 2].x + runs[runs.len() - 2].width);
    }
    assert_eq!(amount_ends.len(), 12, "{rows:?}");
    for ends in [&unit_ends, &amount_ends] {
        assert!(ends.iter().all(|end| (end - ends[0]).abs() < 0.5), "ragged column: {ends:?}");
    }
    // The total stands under the amounts, its right edge on theirs.
    let total = page.iter().find(|r| r.text == "379.25").expect("the total");
    assert!(
        (total.x + total.width - amount_ends[0]).abs() < 0.5,
        "total at {total:?}, amounts end at {}",
        amount_ends[0]
    );
}

#[test]
fn long_text_wraps_inside_its_cell() {
    let page = &pages(&renderer(), &invoice(3, "EUR"))[0];
    let a4_right_margin = 595.0 - 18.0 / 25.4 * 72.0;
    let description: Vec<&Run> =
        page.iter().filter(|r| ["Consulting", "workshops", "delivery"].iter().any(|w| r.text.contains(w))).collect();
    let lines: std::collections::BTreeSet<i64> = description.iter().map(|r| r.y.round() as i64).collect();
    assert!(lines.len() >= 2, "the long description did not wrap: {description:?}");
    // It stays left of the quantity column (whose header starts further right) and on the page.
    let qty_x = page.iter().find(|r| r.text == "Qty").map(|r| r.x).unwrap();
    for run in &description {
        assert!(run.x + run.width < qty_x, "{run:?} runs into the quantity column at {qty_x}");
        assert!(run.x + run.width <= a4_right_margin);
    }
    // A token with no break opportunity (a long part number, a URL) is broken too, not run
    // into the next column.
    let token = "PARTNUMBER".to_owned() + &"QWERTZUIOPASDFGHJKLY".repeat(10);
    let mut document = invoice(1, "EUR");
    if let PdfDocument::Invoice(inv) = &mut document {
        inv.lines[0].description = token.clone();
    }
    let page = &pages(&renderer(), &document)[0];
    let qty_x = page.iter().find(|r| r.text == "Qty").map(|r| r.x).unwrap();
    let mut pieces: Vec<&Run> = page
        .iter()
        .filter(|r| {
            let visible = r.text.replace('\u{200B}', "");
            visible.len() >= 5 && visible.chars().all(|c| c.is_ascii_uppercase())
        })
        .collect();
    pieces.sort_by(|a, b| a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x)));
    assert!(pieces.len() >= 2, "the long token was not broken: {pieces:?}");
    for run in &pieces {
        assert!(run.x + run.width < qty_x, "{run:?} runs into the quantity column at {qty_x}");
    }
    let rejoined: String = pieces.iter().map(|r| r.text.as_str()).collect::<String>().replace('\u{200B}', "");
    assert_eq!(rejoined, token, "characters were lost or added");
    assert!(pieces.iter().all(|r| r.all_glyphs_found), "{pieces:?}");

    // The task report wraps its long title the same way.
    let page = &pages(&renderer(), &task_report(3))[0];
    let title_lines: std::collections::BTreeSet<i64> = page
        .iter()
        .filter(|r| ["very long title", "possibly fit", "wrap inside"].iter().any(|w| r.text.contains(w)))
        .map(|r| r.y.round() as i64)
        .collect();
    assert!(title_lines.len() >= 2, "the long title did not wrap");
}

#[test]
fn accented_cyrillic_greek_and_japanese_text_is_drawn_with_real_glyphs() {
    let r = renderer();
    let pages = pages(&r, &invoice(2, "EUR"));
    let text = page_text(&pages[0]);
    for expected in ["Müller & Søn — Ærøskøbing", "Привет", "Ελληνικά", "日本語", "東京"] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    let missing: Vec<&Run> = pages.iter().flatten().filter(|r| !r.all_glyphs_found).collect();
    assert!(missing.is_empty(), "drawn as missing-glyph boxes: {missing:?}");

    let pages = self::pages(&r, &profile());
    let text = page_text(&pages[0]);
    assert!(text.contains("Παπαδοπούλου") && text.contains("Здравствуйте"), "{text}");
    assert!(pages.iter().flatten().all(|r| r.all_glyphs_found));
}

#[test]
fn a_long_task_report_repeats_its_header_and_counts_by_status() {
    let pages = pages(&renderer(), &task_report(90));
    assert!(pages.len() >= 2, "90 tasks made {} page(s)", pages.len());
    for (i, page) in pages.iter().enumerate() {
        let text = page_text(page);
        assert!(text.contains("Title") && text.contains("Assignee"), "page {} lacks the header", i + 1);
        assert!(text.contains(&format!("Page {} of {}", i + 1, pages.len())));
    }
    let first = page_text(&pages[0]);
    // 90 rows cycle through three statuses: 30 each, and the filter is printed.
    assert!(first.contains("Pending") && first.contains("In progress") && first.contains("Completed"));
    assert!(first.contains("30"), "{first}");
    assert!(first.contains("due on or after 2026-01-01"), "{first}");
}

#[test]
fn an_empty_task_report_says_so() {
    let text = page_text(&pages(&renderer(), &task_report(0))[0]);
    assert!(text.contains("No tasks match these filters."), "{text}");
}

#[test]
fn documents_past_the_page_limit_are_refused() {
    let r = renderer().with_max_pages(1);
    assert!(matches!(r.render_sync(&invoice(60, "EUR")), Err(PdfError::TooLong { max: 1, .. })));
    // Far too many rows are refused before any layout work.
    let r = renderer().with_max_pages(2);
    assert!(matches!(r.render_sync(&task_report(500)), Err(PdfError::TooLong { max: 2, pages }) if pages > 2));
}

/// An invoice of `lines` lines whose descriptions are as long as the domain allows.
fn wordy_invoice(lines: usize) -> PdfDocument {
    let description = "Maintenance of the conveyor belts, spare parts and labour included; ".repeat(15);
    let description: String = description.chars().take(workbench_files::MAX_DESCRIPTION_CHARS).collect();
    let draft = InvoiceDraft {
        lines: Some(
            (0..lines)
                .map(|_| workbench_files::InvoiceLineDraft {
                    description: Some(description.clone()),
                    quantity: Some(1.0),
                    unit_price_cents: Some(100),
                })
                .collect(),
        ),
        ..match invoice(1, "EUR") {
            PdfDocument::Invoice(i) => InvoiceDraft {
                number: Some(i.number),
                date: Some(i.date.to_string()),
                customer: Some(workbench_files::CustomerDraft { name: Some(i.customer.name), address: None }),
                currency: Some("EUR".into()),
                ..InvoiceDraft::default()
            },
            _ => InvoiceDraft::default(),
        }
    };
    PdfDocument::Invoice(Invoice::parse(draft).unwrap())
}

#[test]
fn a_render_past_its_time_limit_is_abandoned_and_stops_working() {
    let document = wordy_invoice(60);
    let started = Instant::now();
    let whole = renderer().render_sync(&document).unwrap();
    let full_time = started.elapsed();
    assert!(whole.pages > 10, "{} pages", whole.pages);

    let limit = full_time / 10;
    let started = Instant::now();
    let abandoned = renderer().with_time_limit(limit).render_sync(&document);
    let abandoned_after = started.elapsed();
    assert!(matches!(abandoned, Err(PdfError::TimedOut { limit: l }) if l == limit), "{abandoned:?}");
    // Starved of fonts, the rest of the layout is cheap: far less than the whole render.
    assert!(abandoned_after < full_time / 2, "abandoned after {abandoned_after:?}; a whole render takes {full_time:?}");
    #[expect(clippy::print_stderr, reason = "the figures are worth seeing when the test is run with --nocapture")]
    {
        eprintln!("{} pages in {full_time:?}; abandoned at {limit:?} after {abandoned_after:?}", whole.pages);
    }

    // The layout of a render that ran out of time is not reused by the next one.
    let again = renderer().render_sync(&document).unwrap();
    assert_eq!(again.pages, whole.pages);
}

#[test]
fn a_render_beside_an_abandoned_one_is_unaffected() {
    let document = wordy_invoice(30);
    let expected = renderer().render_sync(&document).unwrap().pages;
    for _ in 0..3 {
        let (whole, abandoned) = std::thread::scope(|scope| {
            let whole = scope.spawn(|| renderer().render_sync(&document));
            let abandoned =
                scope.spawn(|| renderer().with_time_limit(Duration::from_millis(50)).render_sync(&document));
            (whole.join().unwrap(), abandoned.join().unwrap())
        });
        assert_eq!(whole.unwrap().pages, expected);
        assert!(matches!(abandoned, Err(PdfError::TimedOut { .. })), "{abandoned:?}");
    }
}

#[tokio::test]
async fn the_async_port_answers_a_render_past_its_time_limit() {
    let r: Arc<dyn PdfRenderer> = Arc::new(renderer().with_time_limit(Duration::ZERO));
    assert!(matches!(r.render(profile()).await, Err(PdfError::TimedOut { .. })));
}

#[tokio::test]
async fn the_async_port_renders_off_the_executor() {
    let r: Arc<dyn PdfRenderer> = Arc::new(renderer());
    let (a, b) = tokio::join!(r.render(profile()), r.render(task_report(2)));
    assert!(a.unwrap().bytes.starts_with(b"%PDF-"));
    assert!(b.unwrap().bytes.starts_with(b"%PDF-"));
}

/// The text a PDF reader extracts, through the PDF's own font maps: proves the embedded
/// subsets map back to the right characters. Needs poppler's `pdftotext`; without it the test
/// skips loudly, except under `CI=true` or `REQUIRE_SERVICES=1`.
#[test]
fn a_pdf_reader_extracts_the_text() {
    let dir = std::env::temp_dir().join(format!("workbench-pdf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("invoice.pdf");
    std::fs::write(&path, renderer().render_sync(&invoice(60, "EUR")).unwrap().bytes).unwrap();
    let output = std::process::Command::new("pdftotext").args(["-layout"]).arg(&path).arg("-").output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            let required = std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var("REQUIRE_SERVICES").is_ok();
            assert!(!required, "pdftotext (Debian poppler-utils) is required here: {e}");
            #[expect(clippy::print_stderr, reason = "a skipped check must be visible in the test output")]
            {
                eprintln!("*** SKIPPED PDF text extraction: pdftotext not available ({e})");
            }
            return;
        }
    };
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in ["Müller & Søn — Ærøskøbing", "Привет", "Ελληνικά", "日本語", "Page 2 of", "Total (EUR)"]
    {
        assert!(text.contains(expected), "{expected} not extracted");
    }
}
