//! The closed world a template compiles in: the embedded template sources, the embedded fonts
//! and the document's data as `sys.inputs`. Nothing else is reachable — no file system, no
//! packages, no clock — so a template cannot read the server's files or depend on the day.

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

/// One compilation's world.
pub(crate) struct TemplateWorld<'a> {
    templates: &'a Templates,
    main: FileId,
    fonts: &'a [Font],
    book: LazyHash<FontBook>,
    library: LazyHash<Library>,
}

impl<'a> TemplateWorld<'a> {
    pub(crate) fn new(templates: &'a Templates, fonts: &'a [Font], template: PdfTemplate, inputs: Dict) -> Self {
        Self {
            templates,
            main: templates.main(template).id(),
            fonts,
            book: LazyHash::new(FontBook::from_fonts(fonts)),
            library: LazyHash::new(Library::builder().with_inputs(inputs).build()),
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
        self.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // Dates are in the inputs, formatted; a template that asks for today gets an error.
        None
    }
}
