//! The closed world a template compiles in: the embedded template sources, the embedded fonts
//! and the document's data as `sys.inputs`. Nothing else is reachable — no file system, no
//! packages, no clock — so a template cannot read the server's files or depend on the day.
//! Its fonts are also where a render past its deadline is stopped (see [`PastDeadline`]).

use std::time::Instant;
use typst::diag::{FileError, FileResult};

use typst::foundations::{Bytes, Datetime, Dict, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use workbench_files::PdfTemplate;

/// The template sources, parsed once.
#[derive(Clone)]
pub(crate) struct Templates {
    common: Source,
    invoice: Source,
    profile: Source,
    task_report: Source,
}

fn source(path: &str, text: &str) -> Source {
    // The paths are the constants below, all valid virtual paths.
    let vpath = VirtualPath::new(path).expect("a valid constant path");
    Source::new(RootedPath::new(VirtualRoot::Project, vpath).intern(), text.to_owned())
}

impl Templates {
    pub(crate) fn new() -> Self {
        Self {
            common: source("common.typ", include_str!("../templates/common.typ")),
            invoice: source("invoice.typ", include_str!("../templates/invoice.typ")),
            profile: source("profile.typ", include_str!("../templates/profile.typ")),
            task_report: source("task_report.typ", include_str!("../templates/task_report.typ")),
        }
    }

    fn main(&self, template: PdfTemplate) -> &Source {
        match template {
            PdfTemplate::Invoice => &self.invoice,
            PdfTemplate::Profile => &self.profile,
            PdfTemplate::TaskReport => &self.task_report,
        }
    }

    fn all(&self) -> [&Source; 4] {
        [&self.common, &self.invoice, &self.profile, &self.task_report]
    }
}

/// What a compilation unwinds with once its deadline has passed; [`crate::TypstPdfRenderer`]
/// catches it. Typst cannot be interrupted otherwise, but it asks the world for a font for
/// every run of text it shapes, and shaping is most of its work, so a render stops within
/// moments of its deadline. Answering `None` instead would not do: Typst memoises layout and
/// requires the world to answer the same question the same way within one memoised call.
/// Unwinding leaves nothing behind: the memo cache takes only finished results, its locks are
/// released on the way out and never poisoned, and `rayon` hands a panic in its workers back to
/// the thread that called it.
#[derive(Debug)]
pub(crate) struct PastDeadline;

/// One compilation's world.
pub(crate) struct TemplateWorld<'a> {
    templates: &'a Templates,
    main: FileId,
    fonts: &'a [Font],
    book: LazyHash<FontBook>,
    library: LazyHash<Library>,
    deadline: Instant,
}

impl<'a> TemplateWorld<'a> {
    pub(crate) fn new(
        templates: &'a Templates,
        fonts: &'a [Font],
        template: PdfTemplate,
        inputs: Dict,
        deadline: Instant,
    ) -> Self {
        Self {
            templates,
            main: templates.main(template).id(),
            fonts,
            book: LazyHash::new(FontBook::from_fonts(fonts)),
            library: LazyHash::new(Library::builder().with_inputs(inputs).build()),
            deadline,
        }
    }
}

impl World for TemplateWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.templates.all().into_iter().find(|s| s.id() == id).cloned().ok_or(FileError::AccessDenied)
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.source(id).map(|s| Bytes::from_string(s.text().to_owned()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        if Instant::now() >= self.deadline {
            // `resume_unwind`, not `panic!`: this is no bug, and the panic hook stays quiet.
            std::panic::resume_unwind(Box::new(PastDeadline));
        }
        self.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Dates are in the inputs, formatted; a template that asks for today gets an error.
        None
    }
}
