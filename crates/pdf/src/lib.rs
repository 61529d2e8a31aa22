//! Renders Workbench's PDF documents with Typst used as a library.
//!
//! [`TypstPdfRenderer`] implements the files domain's [`PdfRenderer`] port. Each template is a
//! Typst source compiled into the binary (`templates/*.typ`); the document's data reaches it as
//! `sys.inputs`, already validated and with every amount formatted by the domain, so the
//! template only lays out. Fonts are embedded too (`fonts/`: DejaVu Sans regular and bold, and
//! Droid Sans Fallback for Chinese, Japanese and Korean), so rendering needs neither system
//! fonts nor the network, and the PDF carries subsets of them.
//!
//! Typst memoises layout work in a process-wide cache that only grows; the renderer evicts it
//! after every document so that a long-running server does not accumulate it.
//!
//! A render has a time bound ([`DEFAULT_RENDER_TIME_LIMIT`]). Typst cannot be interrupted, but
//! every piece of text it shapes asks the world for its font: past the deadline that request
//! unwinds out of the compilation, which is caught here and answered [`PdfError::TimedOut`], so
//! an abandoned render stops spending CPU within moments.

mod inputs;
mod world;

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Semaphore;
use typst::foundations::Smart;
use typst::text::Font;
use typst_layout::PagedDocument;
use workbench_files::{PdfDocument, PdfError, PdfRenderer, RenderedPdf};

use crate::world::{PastDeadline, TemplateWorld, Templates};

/// The page limit a renderer starts with.
pub const DEFAULT_MAX_PAGES: usize = 200;

/// How long one render may run before it is abandoned. The costliest invoice the inputs' limits
/// allow (500 lines of 1,000 unbreakable characters: 455 pages, refused as too long only once
/// laid out) takes 0.7 s of one core in a release build, and about twenty times that in a debug
/// one; 20 s leaves that room on a busy machine, and still frees a render permit (one per core)
/// before clients and proxies give up waiting.
pub const DEFAULT_RENDER_TIME_LIMIT: Duration = Duration::from_secs(20);

/// How long past its time limit a render's caller waits for it: a render stops within moments
/// of its deadline (at the next text it lays out, or when writing the PDF ends); should one not,
/// the caller is answered anyway and the job finishes alone, still holding its permit so that
/// the bound on concurrent renders holds.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

/// The most table rows that fit on one A4 page with these templates, rounded up generously:
/// dividing a row count by it gives a lower bound on the pages a document needs, so that an
/// absurdly long report is refused before any layout work.
const MAX_ROWS_PER_PAGE: usize = 60;

const FONT_FILES: [&[u8]; 3] = [
    include_bytes!("../fonts/DejaVuSans.ttf"),
    include_bytes!("../fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../fonts/DroidSansFallbackFull.ttf"),
];

/// The embedded fonts, read at the first render, once for the process: reading one walks its
/// whole character map (the fallback font's is tens of thousands of glyphs), which at start
/// brought megabytes of the binary and the fonts' tables into a server that may never render.
static FONTS: LazyLock<Vec<Font>> =
    LazyLock::new(|| FONT_FILES.iter().flat_map(|bytes| Font::iter(typst::foundations::Bytes::new(*bytes))).collect());

/// The [`PdfRenderer`] of Workbench. Cheap to clone; clones share the fonts and the limit on
/// concurrent renders.
#[derive(Clone)]
pub struct TypstPdfRenderer {
    inner: Arc<Inner>,
    /// At most one render per core at a time: rendering is CPU work on the blocking pool, and a
    /// burst of requests must queue rather than start a thread each.
    permits: Arc<Semaphore>,
}

#[derive(Clone)]
struct Inner {
    templates: Templates,
    max_pages: usize,
    time_limit: Duration,
}

impl fmt::Debug for TypstPdfRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypstPdfRenderer")
            .field("fonts", &FONT_FILES.len())
            .field("max_pages", &self.inner.max_pages)
            .field("time_limit", &self.inner.time_limit)
            .finish_non_exhaustive()
    }
}

impl Default for TypstPdfRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl TypstPdfRenderer {
    /// A renderer with the embedded fonts and templates, [`DEFAULT_MAX_PAGES`] and
    /// [`DEFAULT_RENDER_TIME_LIMIT`]. The fonts are read at the first render.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            inner: Arc::new(Inner {
                templates: Templates::new(),
                max_pages: DEFAULT_MAX_PAGES,
                time_limit: DEFAULT_RENDER_TIME_LIMIT,
            }),
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// The same renderer refusing documents longer than `max_pages`.
    pub fn with_max_pages(self, max_pages: usize) -> Self {
        let inner = Inner { max_pages: max_pages.max(1), ..Arc::unwrap_or_clone(self.inner) };
        Self { inner: Arc::new(inner), permits: self.permits }
    }

    /// The same renderer abandoning a render that runs longer than `time_limit`.
    pub fn with_time_limit(self, time_limit: Duration) -> Self {
        let inner = Inner { time_limit, ..Arc::unwrap_or_clone(self.inner) };
        Self { inner: Arc::new(inner), permits: self.permits }
    }

    /// Renders `document` on the calling thread. This is CPU work (about 0.7 s for a 3-page
    /// document in a debug build): call it from a blocking context, or use
    /// [`PdfRenderer::render`], which does. Past the time limit it stops and answers
    /// [`PdfError::TimedOut`].
    pub fn render_sync(&self, document: &PdfDocument) -> Result<RenderedPdf, PdfError> {
        let deadline = Instant::now() + self.inner.time_limit;
        let laid_out = self.lay_out(document, deadline)?;
        let options = typst_pdf::PdfOptions { creator: Smart::Custom(Some("Workbench".into())), ..Default::default() };
        let bytes = typst_pdf::pdf(&laid_out, &options)
            .map_err(|errors| PdfError::Failed(anyhow::anyhow!("PDF export failed: {}", describe(&errors))))?;
        self.in_time(deadline)?;
        Ok(RenderedPdf { bytes, pages: laid_out.pages().len() })
    }

    fn in_time(&self, deadline: Instant) -> Result<(), PdfError> {
        if Instant::now() >= deadline { Err(PdfError::TimedOut { limit: self.inner.time_limit }) } else { Ok(()) }
    }

    /// Compiles and lays out `document`, checking the page limit, without writing the PDF.
    /// Past `deadline` the compilation is abandoned: [`PdfError::TimedOut`].
    fn lay_out(&self, document: &PdfDocument, deadline: Instant) -> Result<PagedDocument, PdfError> {
        let max = self.inner.max_pages;
        let rows = match document {
            PdfDocument::Invoice(invoice) => invoice.lines.len(),
            PdfDocument::TaskReport(report) => report.rows.len(),
            PdfDocument::Profile(_) => 0,
        };
        let at_least = rows.div_ceil(MAX_ROWS_PER_PAGE);
        if at_least > max {
            return Err(PdfError::TooLong { pages: at_least, max });
        }

        let fonts = FONTS.as_slice();
        if fonts.len() != FONT_FILES.len() {
            return Err(PdfError::Failed(anyhow::anyhow!(
                "read {} of the {} embedded fonts",
                fonts.len(),
                FONT_FILES.len()
            )));
        }
        let world =
            TemplateWorld::new(&self.inner.templates, fonts, document.template(), inputs::of(document), deadline);
        // Nothing of the compilation outlives an unwinding out of it but the memo cache, which
        // only ever holds finished results.
        let compiled = std::panic::catch_unwind(AssertUnwindSafe(|| typst::compile::<PagedDocument>(&world).output));
        // Typst's memo cache is global and only grows; nothing here profits from keeping it.
        comemo::evict(0);
        let result = match compiled {
            Ok(result) => result,
            Err(payload) if payload.is::<PastDeadline>() => {
                return Err(PdfError::TimedOut { limit: self.inner.time_limit });
            }
            // A bug in Typst or a template stays one.
            Err(payload) => std::panic::resume_unwind(payload),
        };
        self.in_time(deadline)?;
        let laid_out = result.map_err(|errors| {
            PdfError::Failed(anyhow::anyhow!("the {} template failed: {}", document.template(), describe(&errors)))
        })?;
        let pages = laid_out.pages().len();
        if pages > max {
            return Err(PdfError::TooLong { pages, max });
        }
        Ok(laid_out)
    }
}

fn describe(errors: &[typst::diag::SourceDiagnostic]) -> String {
    errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
}

#[async_trait]
impl PdfRenderer for TypstPdfRenderer {
    async fn render(&self, document: PdfDocument) -> Result<RenderedPdf, PdfError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PdfError::Failed(anyhow::anyhow!("renderer shut down: {e}")))?;
        let renderer = self.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            renderer.render_sync(&document)
        });
        match tokio::time::timeout(self.inner.time_limit + ABANDON_GRACE, job).await {
            Ok(joined) => joined.map_err(|e| PdfError::Failed(anyhow::anyhow!("render task failed: {e}")))?,
            Err(_) => Err(PdfError::TimedOut { limit: self.inner.time_limit }),
        }
    }
}

#[cfg(test)]
mod tests;
