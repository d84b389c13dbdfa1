//! trybuild cases of `#[knox_view]`, grouped by kind of mistake: `args/`
//! (keys and syntax), `values/` (argument values and types), `shape/` (the
//! item under the attribute) and `hooks/` (the `impl KnoxHooks` block).
//! `pass/` contains views that must compile.
//!
//! The `.stderr` files hold rustc's exact output and were checked against
//! rustc 1.95.0. After a compiler upgrade, regenerate them with
//! `TRYBUILD=overwrite cargo test -p knox-ui-tests`, then read the diff: each
//! error must still point at the offending argument, not into generated code.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/args/*.rs");
    cases.compile_fail("tests/values/*.rs");
    cases.compile_fail("tests/shape/*.rs");
    cases.compile_fail("tests/hooks/*.rs");
}
