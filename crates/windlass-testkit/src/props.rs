//! One configuration for every property test.

use proptest::test_runner::Config;

/// How many cases a property test runs when `PROPTEST_CASES` does not say.
pub const DEFAULT_PROPTEST_CASES: u32 = 256;

/// The property-test configuration: [`DEFAULT_PROPTEST_CASES`] cases (the
/// `PROPTEST_CASES` variable asks for more, for a deeper run by hand) and no
/// failure files written into the source tree: a failure found is kept as
/// an explicit table test instead.
pub fn proptest_config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(DEFAULT_PROPTEST_CASES),
        failure_persistence: None,
        ..Config::default()
    }
}
