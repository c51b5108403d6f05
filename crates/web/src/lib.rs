//! Tabletalk's web client as static assets embedded in the binary: built from the TypeScript sources next to this
//! file by `build.rs` (docs/web-client.md). Serving them — paths, caching, compression, the Content-Security-Policy
//! — is the HTTP layer's job.
//!
//! Must not import any other workspace crate: it holds bytes, not behaviour.

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// One built file.
#[derive(Debug)]
pub struct Asset {
    /// Relative to the site root, without a leading slash (`index.html`, `assets/index-3f2a.js`).
    pub path: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzip-compressed, for text files.
    pub gzip: Option<&'static [u8]>,
    pub content_type: &'static str,
}

impl Asset {
    /// Vite names these by content hash, so they never change under their name.
    pub fn is_immutable(&self) -> bool {
        self.path.starts_with("assets/")
    }
}

/// The file at `path` (relative, no leading slash), if the client has it.
pub fn asset(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.path == path)
}

/// The page every client route loads: the app, or without npm at build time the page explaining how to get it.
pub fn index_html() -> &'static Asset {
    FILES
        .iter()
        .find(|a| a.path == "index.html")
        .unwrap_or(&FALLBACK_ASSET)
}

static FALLBACK_ASSET: Asset = Asset {
    path: "index.html",
    body:
        b"<!doctype html><title>Tabletalk</title><p>The web client is missing from this build.</p>",
    gzip: None,
    content_type: "text/html; charset=utf-8",
};

/// Whether the client itself was built (false: `/` explains how to get it).
pub const fn client_built() -> bool {
    CLIENT_BUILT
}
