//! File names from clients, made safe to store and to send back in `Content-Disposition`.

use crate::MediaType;

/// The longest stored file name, in bytes (the usual file-system limit).
pub const MAX_FILENAME_BYTES: usize = 255;

/// The name given to a file whose name sanitises to nothing.
const FALLBACK_STEM: &str = "file";

/// A dot-suffix longer than this is part of the name, not an extension (`report.final-version-2`).
const MAX_EXTENSION_BYTES: usize = 16;

/// Sanitises a client's file name for storage and download:
/// - only the last path component is kept, whichever separator the client's system uses
///   (`C:\Users\me\cat.jpg` and `../../etc/passwd` become `cat.jpg` and `passwd`);
/// - control characters and the invisible formatting characters that can disguise an extension
///   (right-to-left override, zero-width spaces) are removed, and characters that are illegal or
///   reserved on common file systems are replaced by `_` (`sanitize-filename`, Windows rules);
/// - leading and trailing dots and spaces are dropped, so a name is never hidden or blank;
/// - the result is at most [`MAX_FILENAME_BYTES`] bytes, cut on a character boundary, and the
///   cut is made in the stem so that the extension survives;
/// - it is never empty: a name with nothing left becomes `file` (keeping its extension, if any).
pub fn sanitize_filename(raw: &str) -> String {
    let last_component = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let visible: String = last_component.chars().filter(|c| !c.is_control() && !is_invisible_format_char(*c)).collect();
    let trimmed = visible.trim_matches(|c: char| c.is_whitespace() || c == '.');
    let (stem, extension) = split_extension(trimmed);
    let extension = extension.map(clean).filter(|e| !e.is_empty());
    let stem = clean(stem);
    join_within_limit(if stem.is_empty() { FALLBACK_STEM } else { &stem }, extension.as_deref())
}

/// Gives a (sanitised) file name the extension of the type it is stored as, when its own
/// extension does not belong to that type: an uploaded `cat.webp` stored as JPEG downloads as
/// `cat.jpg`, and `scan` stored as PDF as `scan.pdf`. Text keeps a text extension (`.txt`,
/// `.md`, `.csv`, `.log`) and any other gets `.txt` appended, so that `notes.html` is stored as
/// `notes.html.txt`: what was written is still read, and nothing opens it as a page.
pub fn with_extension_for(name: &str, media_type: MediaType) -> String {
    let Some(usual) = media_type.extensions().first() else {
        return name.to_owned();
    };
    let (stem, extension) = split_extension(name);
    let fits = extension.is_some_and(|e| media_type.extensions().iter().any(|known| known.eq_ignore_ascii_case(e)));
    if fits {
        return name.to_owned();
    }
    let stem = if media_type == MediaType::Text { name } else { stem };
    join_within_limit(if stem.is_empty() { FALLBACK_STEM } else { stem }, Some(usual))
}

/// Splits `name` at its last dot when what follows is a plausible extension.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('.') {
        Some((stem, extension))
            if !stem.is_empty() && !extension.is_empty() && extension.len() <= MAX_EXTENSION_BYTES =>
        {
            (stem, Some(extension))
        }
        _ => (name, None),
    }
}

fn clean(part: &str) -> String {
    let options = sanitize_filename::Options { windows: true, truncate: false, replacement: "_" };
    sanitize_filename::sanitize_with_options(part, options).trim().to_owned()
}

/// `stem.extension`, the stem shortened on a character boundary to keep the whole within limit.
fn join_within_limit(stem: &str, extension: Option<&str>) -> String {
    let suffix = extension.map(|e| format!(".{e}")).unwrap_or_default();
    let mut end = MAX_FILENAME_BYTES.saturating_sub(suffix.len()).min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &stem[..end])
}

/// Zero-width and bidirectional formatting characters: invisible, and able to make
/// `invoice\u{202E}fdp.exe` display as `invoiceexe.pdf`.
fn is_invisible_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_are_dropped_whatever_the_separator() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename(r"C:\Users\me\cat.jpg"), "cat.jpg");
        assert_eq!(sanitize_filename("a/b\\c.txt"), "c.txt");
    }

    #[test]
    fn nothing_left_becomes_file_keeping_the_extension() {
        assert_eq!(sanitize_filename(""), "file");
        assert_eq!(sanitize_filename("../.."), "file");
        assert_eq!(sanitize_filename("   "), "file");
        assert_eq!(sanitize_filename("dir/"), "file");
        assert_eq!(sanitize_filename("???.pdf"), "___.pdf");
        assert_eq!(sanitize_filename("\u{0}\u{1}report\n.pdf"), "report.pdf");
        assert_eq!(sanitize_filename("..."), "file");
    }

    #[test]
    fn hidden_and_reserved_names_are_made_ordinary() {
        assert_eq!(sanitize_filename(".bashrc"), "bashrc");
        assert_eq!(sanitize_filename("CON.txt"), "_.txt");
        assert_eq!(sanitize_filename("report. "), "report");
        assert_eq!(sanitize_filename("a:b*c?.png"), "a_b_c_.png");
    }

    #[test]
    fn invisible_direction_overrides_are_removed() {
        assert_eq!(sanitize_filename("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_filename("zero\u{200B}width.txt"), "zerowidth.txt");
    }

    #[test]
    fn long_names_are_cut_in_the_stem_on_a_char_boundary() {
        let long = format!("{}.jpeg", "é".repeat(300));
        let cut = sanitize_filename(&long);
        assert!(cut.len() <= MAX_FILENAME_BYTES);
        assert!(cut.ends_with("é.jpeg"), "{cut}");
        assert_eq!(cut.len(), MAX_FILENAME_BYTES);
        let odd = sanitize_filename(&format!("a{}.jpeg", "é".repeat(300)));
        assert_eq!(odd.len(), MAX_FILENAME_BYTES - 1, "a cut inside 'é' moves back to its start");
        let plain = sanitize_filename(&"x".repeat(400));
        assert_eq!(plain.len(), MAX_FILENAME_BYTES);
    }

    #[test]
    fn unicode_names_survive() {
        assert_eq!(sanitize_filename("Rechnung März 2026.pdf"), "Rechnung März 2026.pdf");
        assert_eq!(sanitize_filename("请求.txt"), "请求.txt");
    }

    #[test]
    fn text_keeps_a_text_extension_and_any_other_gets_txt_appended() {
        for kept in ["notes.txt", "README.md", "data.CSV", "server.log"] {
            assert_eq!(with_extension_for(kept, MediaType::Text), kept);
        }
        assert_eq!(with_extension_for("notes.html", MediaType::Text), "notes.html.txt");
        assert_eq!(with_extension_for("evil.svg", MediaType::Text), "evil.svg.txt");
        assert_eq!(with_extension_for("readme", MediaType::Text), "readme.txt");
        assert_eq!(with_extension_for("invoice.exe", MediaType::Text), "invoice.exe.txt");
        let long = with_extension_for(&format!("{}.html", "z".repeat(260)), MediaType::Text);
        assert_eq!(long.len(), MAX_FILENAME_BYTES);
        assert!(long.ends_with(".txt"), "{long}");
    }

    #[test]
    fn the_extension_follows_the_stored_type() {
        assert_eq!(with_extension_for("cat.webp", MediaType::Jpeg), "cat.jpg");
        assert_eq!(with_extension_for("cat.JPEG", MediaType::Jpeg), "cat.JPEG");
        assert_eq!(with_extension_for("anim.gif", MediaType::Png), "anim.png");
        assert_eq!(with_extension_for("scan", MediaType::Pdf), "scan.pdf");
        assert_eq!(with_extension_for("notes.md", MediaType::Text), "notes.md");
        let long = with_extension_for(&"y".repeat(255), MediaType::Png);
        assert_eq!(long.len(), MAX_FILENAME_BYTES);
        assert!(long.ends_with(".png"));
    }
}
