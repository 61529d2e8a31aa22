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

mod inputs;
mod world;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use typst::foundations::Smart;
use typst::text::Font;
use typst_layout::PagedDocument;
use workbench_files::{PdfDocument, PdfError, PdfRenderer, RenderedPdf};

use crate::world::{TemplateWorld, Templates};

/// The page limit a renderer starts with.
pub const DEFAULT_MAX_PAGES: usize = 200;

/// The most table rows that fit on one A4 page with these templates, rounded up generously:
/// dividing a row count by it gives a lower bound on the pages a document needs, so that an
/// absurdly long report is refused before any layout work.
const MAX_ROWS_PER_PAGE: usize = 60;

const FONT_FILES: [&[u8]; 3] = [
    include_bytes!("../fonts/DejaVuSans.ttf"),
    include_bytes!("../fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../fonts/DroidSansFallbackFull.ttf"),
];

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
    fonts: Vec<Font>,
    templates: Templates,
    max_pages: usize,
}

impl fmt::Debug for TypstPdfRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypstPdfRenderer")
            .field("fonts", &self.inner.fonts.len())
            .field("max_pages", &self.inner.max_pages)
            .finish_non_exhaustive()
    }
}

impl TypstPdfRenderer {
    /// A renderer with the embedded fonts and templates and [`DEFAULT_MAX_PAGES`].
    ///
    /// Fails only if an embedded font cannot be read, which the tests rule out.
    pub fn new() -> Result<Self, PdfError> {
        let fonts: Vec<Font> =
            FONT_FILES.iter().flat_map(|bytes| Font::iter(typst::foundations::Bytes::new(*bytes))).collect();
        if fonts.len() != FONT_FILES.len() {
            return Err(PdfError::Failed(anyhow::anyhow!(
                "read {} of the {} embedded fonts",
                fonts.len(),
                FONT_FILES.len()
            )));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            inner: Arc::new(Inner { fonts, templates: Templates::new(), max_pages: DEFAULT_MAX_PAGES }),
            permits: Arc::new(Semaphore::new(cores)),
        })
    }

    /// The same renderer refusing documents longer than `max_pages`.
    pub fn with_max_pages(self, max_pages: usize) -> Self {
        let Inner { fonts, templates, .. } = Arc::unwrap_or_clone(self.inner);
        Self { inner: Arc::new(Inner { fonts, templates, max_pages: max_pages.max(1) }), permits: self.permits }
    }

    /// Renders `document` on the calling thread. This is CPU work (about 0.7 s for a 3-page
    /// document in a debug build): call it from a blocking context, or use
    /// [`PdfRenderer::render`], which does.
    pub fn render_sync(&self, document: &PdfDocument) -> Result<RenderedPdf, PdfError> {
        let laid_out = self.lay_out(document)?;
        let options = typst_pdf::PdfOptions { creator: Smart::Custom(Some("Workbench".into())), ..Default::default() };
        let bytes = typst_pdf::pdf(&laid_out, &options)
            .map_err(|errors| PdfError::Failed(anyhow::anyhow!("PDF export failed: {}", describe(&errors))))?;
        Ok(RenderedPdf { bytes, pages: laid_out.pages().len() })
    }

    /// Compiles and lays out `document`, checking the page limit, without writing the PDF.
    fn lay_out(&self, document: &PdfDocument) -> Result<PagedDocument, PdfError> {
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

        let world =
            TemplateWorld::new(&self.inner.templates, &self.inner.fonts, document.template(), inputs::of(document));
        let result = typst::compile::<PagedDocument>(&world).output;
        // Typst's memo cache is global and only grows; nothing here profits from keeping it.
        comemo::evict(0);
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
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            renderer.render_sync(&document)
        })
        .await
        .map_err(|e| PdfError::Failed(anyhow::anyhow!("render task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests;
