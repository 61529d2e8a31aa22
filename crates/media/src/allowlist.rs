//! The files domain's `ContentSniffer` port on top of [`Sniffer`]: the contract's allowlist.

use workbench_files::{ContentSniffer, Refusal, Sniff, SniffedType};

use crate::Sniffer;

/// Types uploads by their bytes against the contract's allowlist (see [`crate::sniff`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowlistSniffer;

impl ContentSniffer for AllowlistSniffer {
    fn start(&self) -> Box<dyn Sniff> {
        Box::new(Sniffer::new())
    }
}

impl Sniff for Sniffer {
    fn feed(&mut self, chunk: &[u8]) {
        Sniffer::feed(self, chunk);
    }

    fn early_refusal(&self) -> Option<Refusal> {
        Sniffer::early_refusal(self).map(|refused| Refusal(refused.to_string()))
    }

    fn finish(self: Box<Self>) -> Result<SniffedType, Refusal> {
        let sniffed = Sniffer::finish(*self).map_err(|refused| Refusal(refused.to_string()))?;
        Ok(SniffedType {
            content_type: sniffed.media_type.as_str().to_owned(),
            class: sniffed.media_type.class().into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_accepted_and_an_empty_upload_refused_through_the_port() {
        let mut sniff = AllowlistSniffer.start();
        sniff.feed(b"hello\n");
        let sniffed = sniff.finish().unwrap();
        assert_eq!(sniffed.class, workbench_files::MediaClass::Document);
        assert!(sniffed.content_type.starts_with("text/plain"));
        let refused = AllowlistSniffer.start().finish().unwrap_err();
        assert_eq!(refused.0, "the file is empty");
    }
}
