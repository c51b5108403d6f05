//! Rebuild when a migration changes, so the embedded copy is never stale.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
