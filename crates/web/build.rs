//! Builds the web client with the machine's Node.js and npm (`npm ci` when the lockfile changed, then `vite build`
//! into `OUT_DIR`) and writes `assets.rs`: every built file, its gzip form and its content type, for
//! `include_bytes!`. Cargo reruns this only when the client's sources change.
//!
//! Without npm (or with `TABLETALK_WEB_SKIP=1`) the Rust build still succeeds and the binary serves one page that
//! explains how to get the client; with `TABLETALK_WEB_REQUIRE=1` (CI) a failed client build fails the build.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

const INPUTS: [&str; 7] = [
    "package.json",
    "package-lock.json",
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "src",
    "public",
];

const FALLBACK: &str = include_str!("fallback.html");

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", manifest.join(input).display());
    }
    println!("cargo:rerun-if-changed=fallback.html");
    println!("cargo:rerun-if-env-changed=TABLETALK_WEB_SKIP");
    println!("cargo:rerun-if-env-changed=TABLETALK_WEB_REQUIRE");
    let required = env::var("TABLETALK_WEB_REQUIRE").is_ok_and(|v| v == "1");
    let dist = out.join("dist");
    let built = if env::var("TABLETALK_WEB_SKIP").is_ok_and(|v| v == "1") {
        Err("TABLETALK_WEB_SKIP=1".to_owned())
    } else {
        build_client(&manifest, &dist)
    };
    let (files, client_built) = match built {
        Ok(()) => (collect(&dist)?, true),
        Err(reason) => {
            if required {
                return Err(format!("the web client did not build: {reason}").into());
            }
            println!(
                "cargo:warning=the web client was not built ({reason}); / explains how to get it"
            );
            let _ = fs::remove_dir_all(&dist);
            fs::create_dir_all(&dist)?;
            fs::write(dist.join("index.html"), FALLBACK)?;
            (
                vec![(PathBuf::from("index.html"), dist.join("index.html"))],
                false,
            )
        }
    };
    write_table(&out, &files, client_built)
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command.status().map_err(|e| format!("{shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

fn build_client(manifest: &Path, dist: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    Command::new(npm)
        .arg("--version")
        .output()
        .map_err(|_| "npm is not installed".to_owned())?;
    // `npm ci` only when the installed packages are older than the lockfile (or absent).
    let lock = manifest.join("package-lock.json");
    let installed = manifest.join("node_modules/.package-lock.json");
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&installed).is_none() || modified(&installed) < modified(&lock) {
        run(Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(manifest))?;
    }
    run(Command::new(npm)
        .args(["run", "build", "--", "--outDir"])
        .arg(dist)
        .arg("--emptyOutDir")
        .current_dir(manifest))
}

/// Every file under `dist`, relative path first, sorted.
fn collect(dist: &Path) -> Result<Vec<(PathBuf, PathBuf)>, Failure> {
    let mut found = Vec::new();
    let mut pending = vec![dist.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_none_or(|e| e != "gz") {
                let relative = path.strip_prefix(dist)?.to_path_buf();
                found.push((relative, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn compressible(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("html" | "js" | "mjs" | "css" | "svg" | "json" | "map" | "txt")
    )
}

fn gzip(path: &Path) -> Result<PathBuf, Failure> {
    let target = path.with_extension(format!(
        "{}.gz",
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
    ));
    let body = fs::read(path)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&body)?;
    fs::write(&target, encoder.finish()?)?;
    Ok(target)
}

fn write_table(
    out: &Path,
    files: &[(PathBuf, PathBuf)],
    client_built: bool,
) -> Result<(), Failure> {
    let mut table = String::from("pub(crate) static FILES: &[Asset] = &[\n");
    for (relative, path) in files {
        let url_path = relative.to_string_lossy().replace('\\', "/");
        let gz = if compressible(path) {
            format!(
                "Some(include_bytes!({:?}))",
                gzip(path)?.display().to_string()
            )
        } else {
            "None".to_owned()
        };
        let _ = writeln!(
            table,
            "    Asset {{ path: {url_path:?}, body: include_bytes!({:?}), gzip: {gz}, content_type: {:?} }},",
            path.display().to_string(),
            content_type(path),
        );
    }
    table.push_str("];\n");
    let _ = writeln!(
        table,
        "pub(crate) const CLIENT_BUILT: bool = {client_built};"
    );
    fs::write(out.join("assets.rs"), table)?;
    Ok(())
}
