//! trybuild cases of `#[knox_view]`, grouped by kind of mistake.
//!
//! The `.stderr` files hold rustc's exact output. After a compiler upgrade,
//! regenerate them with `TRYBUILD=overwrite cargo test -p knox-ui-tests`, then
//! read the diff: each error must still point at the offending argument.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/args/*.rs");
    cases.compile_fail("tests/values/*.rs");
    cases.compile_fail("tests/shape/*.rs");
    cases.compile_fail("tests/hooks/*.rs");
}
